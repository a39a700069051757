import XCTest
import DevP2P

/// Matching as go-ethereum's matchProtocols (the scenarios of its TestMatchProtocols, plus
/// offset and lookup checks).
final class SharedCapabilitiesTests: XCTestCase {
    private func cap(_ name: String, _ version: UInt64) -> Capability { Capability(name: name, version: version) }
    private func local(_ name: String, _ version: UInt64, _ length: UInt64 = 1) -> LocalProtocol {
        LocalProtocol(capability: cap(name, version), length: length)
    }
    /// (name, version, offset) of each shared capability in order.
    private func match(_ local: [LocalProtocol], _ remote: [Capability]) -> [String] {
        SharedCapabilities(local: local, remote: remote).protocols.map { "\($0.capability)@\($0.offset)" }
    }

    func testNothingShared() {
        XCTAssertTrue(SharedCapabilities(local: [local("a", 0)], remote: []).isEmpty)
        XCTAssertTrue(SharedCapabilities(local: [], remote: [cap("a", 0)]).isEmpty)
        XCTAssertTrue(SharedCapabilities(local: [local("b", 0)], remote: [cap("a", 0)]).isEmpty)
        XCTAssertTrue(SharedCapabilities(local: [local("a", 2)], remote: [cap("a", 1)]).isEmpty, "no mutual version")
    }

    func testSomeMatchesSomeDifferences() {
        XCTAssertEqual(match([local("match1", 0), local("match2", 0), local("remote", 0)],
                             [cap("local", 0), cap("match1", 0), cap("match2", 0)]),
                       ["match1/0@16", "match2/0@17"])
    }

    func testSortedByNameAsBytes() {
        XCTAssertEqual(match([local("ba", 0), local("bb", 0), local("ab", 0), local("aa", 0)],
                             [cap("aa", 0), cap("ab", 0), cap("bb", 0), cap("ba", 0)]),
                       ["aa/0@16", "ab/0@17", "ba/0@18", "bb/0@19"])
        // Byte order puts upper case before lower case ("Z" 0x5a < "a" 0x61).
        XCTAssertEqual(match([local("a", 1), local("Z", 1)], [cap("a", 1), cap("Z", 1)]), ["Z/1@16", "a/1@17"])
    }

    func testHighestSharedVersionWins() {
        XCTAssertEqual(match([local("", 2), local("", 3)], [cap("", 1), cap("", 2)]), ["/2@16"])
        XCTAssertEqual(match([local("", 2), local("", 3)], [cap("", 1), cap("", 2), cap("", 3), cap("", 4)]), ["/3@16"])
        XCTAssertEqual(match([local("", 2), local("", 3), local("", 1)], [cap("", 4), cap("", 1), cap("", 3), cap("", 2)]),
                       ["/3@16"])
    }

    /// A lower version's length must not leak into the next protocol's offset.
    func testReplacedVersionGivesBackItsIDs() {
        let shared = SharedCapabilities(local: [local("", 1, 1), local("", 2, 2), local("", 3, 3), local("a", 0, 1)],
                                        remote: [cap("", 1), cap("", 2), cap("", 3), cap("a", 0)])
        XCTAssertEqual(shared.protocols, [
            SharedCapability(capability: cap("", 3), offset: 16, length: 3),
            SharedCapability(capability: cap("a", 0), offset: 19, length: 1),
        ])
    }

    func testEthAndSnapOffsetsAndLookup() throws {
        // eth/68 uses 17 ids and snap/1 uses 8 (go-ethereum's protocol lengths).
        let shared = SharedCapabilities(local: [local("eth", 67, 17), local("eth", 68, 17), local("snap", 1, 8)],
                                        remote: [cap("snap", 1), cap("eth", 66), cap("eth", 67), cap("eth", 68), cap("les", 4)])
        XCTAssertEqual(shared.protocols.map(\.capability), [cap("eth", 68), cap("snap", 1)])
        XCTAssertEqual(shared.capability(named: "eth")?.offset, 0x10)
        XCTAssertEqual(shared.capability(named: "snap")?.offset, 0x21)
        XCTAssertNil(shared.capability(named: "les"))

        XCTAssertNil(shared.capability(forMessageID: 0x0f))
        let first = try XCTUnwrap(shared.capability(forMessageID: 0x10))
        XCTAssertEqual(first.0.capability, cap("eth", 68))
        XCTAssertEqual(first.relativeID, 0)
        let lastEth = try XCTUnwrap(shared.capability(forMessageID: 0x20))
        XCTAssertEqual(lastEth.0.capability.name, "eth")
        XCTAssertEqual(lastEth.relativeID, 16)
        let snap = try XCTUnwrap(shared.capability(forMessageID: 0x28))
        XCTAssertEqual(snap.0.capability, cap("snap", 1))
        XCTAssertEqual(snap.relativeID, 7)
        XCTAssertNil(shared.capability(forMessageID: 0x29))
        XCTAssertNil(shared.capability(forMessageID: .max))
    }

    func testDuplicateRemoteCapabilities() {
        XCTAssertEqual(match([local("eth", 68, 17), local("x", 1)], [cap("eth", 68), cap("eth", 68), cap("x", 1)]),
                       ["eth/68@16", "x/1@33"])
    }
}
