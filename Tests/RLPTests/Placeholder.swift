import XCTest
// Placeholder so the target builds; replaced by the real tests.
final class RLPTestsPlaceholder: XCTestCase {}
