import XCTest
final class NodeConfigTestsPlaceholder: XCTestCase {}
