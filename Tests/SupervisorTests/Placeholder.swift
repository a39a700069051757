import XCTest
final class SupervisorTestsPlaceholder: XCTestCase {}
