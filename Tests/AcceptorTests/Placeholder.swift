import XCTest
final class AcceptorTestsPlaceholder: XCTestCase {}
