import XCTest
import RLP

final class RLPSmokeTests: XCTestCase {
    func testDog() throws {
        XCTAssertEqual(RLP.encode(.list([.string("cat"), .string("dog")])), [0xc8, 0x83, 0x63, 0x61, 0x74, 0x83, 0x64, 0x6f, 0x67])
    }
}
