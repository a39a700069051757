import XCTest
import Keccak
import TestVectors

final class KeccakVectorTests: XCTestCase {
    func testNamed() {
        XCTAssertEqual(TestVectors.hexString(Keccak256.hash([])), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        XCTAssertEqual(TestVectors.hexString(Keccak256.hash(Array("abc".utf8))), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
    }
}
