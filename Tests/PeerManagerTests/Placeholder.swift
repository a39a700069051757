import XCTest
final class PeerManagerTestsPlaceholder: XCTestCase {}
