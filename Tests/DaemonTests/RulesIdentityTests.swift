import DevP2P
import Enode
import Foundation
import PeerLink
import Secp256k1
import XCTest

/// The checks that look at who the peer is: AlreadyConnected (one node ID, one connection),
/// Self (the daemon's own key) and UselessPeer (no shared capability), each with its exact
/// Disconnect reason as the peer receives it.
final class RulesIdentityTests: XCTestCase {
    func testSameKeyTwiceIsAlreadyConnected() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { daemon.stop() }
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())
        let me = TestIdentity()

        let first = PeerAdmission.attempt(enode, key: me.key)
        XCTAssertNotNil(first.link, "\(first)\n\(daemon.stderr)")
        let again = PeerAdmission.attempt(enode, key: me.key)
        XCTAssertEqual(again.reason, .alreadyConnected, "\(again)\n\(daemon.stderr)")
        // The first connection is untouched by the refused second one.
        XCTAssertNoThrow(try first.link?.ping(timeout: .seconds(5)))
        XCTAssertEqual(daemon.count("peer added: \(me.shortID)"), 1, daemon.stderr)
        // Dialing a node that is connected already: kept, not dialed (go-ethereum's dial error
        // "already connected").
        let keep = try daemon.control(["add-peer", me.enode])
        XCTAssertEqual(keep.status, 0, "\(keep)")
        XCTAssertTrue(keep.stdout.contains("added as static; already connected, kept connected from now on"), "\(keep)")

        // Two handshakes of one ID at the same moment: exactly one becomes the peer, the other is
        // told AlreadyConnected (go-ethereum checks only live peers and could take both).
        let twin = TestIdentity()
        let outcomes = Self.simultaneous(2) { PeerAdmission.attempt(enode, key: twin.key) }
        let kept = outcomes.filter { $0.link != nil }
        XCTAssertEqual(kept.count, 1, "\(outcomes)\n\(daemon.stderr)")
        XCTAssertEqual(outcomes.compactMap(\.reason), [.alreadyConnected], "\(outcomes)")
        XCTAssertTrue(daemon.waitForLog("peer added: \(twin.shortID)"), daemon.stderr)
        XCTAssertEqual(daemon.count("peer added: \(twin.shortID)"), 1, daemon.stderr)
        withExtendedLifetime((first, outcomes)) {}
    }

    func testDaemonsOwnKeyIsSelf() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { daemon.stop() }
        try daemon.waitReady()
        let ownURL = try daemon.enode()
        let enode = try EnodeURL(parsing: ownURL)
        let key = try daemon.nodeKey()
        XCTAssertEqual(NodeID(publicKey: key.publicKey), enode.nodeID)

        // A client holding the daemon's key: authenticated, then refused as the node itself.
        let impostor = PeerAdmission.attempt(enode, key: key)
        XCTAssertEqual(impostor.reason, .connectedToSelf, "\(impostor)\n\(daemon.stderr)")

        // Asking the daemon to dial itself: refused up front with go-ethereum's dial error.
        let added = try daemon.control(["add-peer", ownURL])
        XCTAssertNotEqual(added.status, 0, "\(added)")
        XCTAssertTrue(added.stderr.contains("cannot add this node itself (dial error: self)"), "\(added)")
        // Neither became a peer nor a dial: the next peer is the first one added.
        let genuine = PeerAdmission.attempt(enode)
        XCTAssertNotNil(genuine.link, "\(genuine)\n\(daemon.stderr)")
        XCTAssertTrue(daemon.waitForLog("peer added: "), daemon.stderr)
        XCTAssertEqual(daemon.count("peer added: "), 1, daemon.stderr)
        XCTAssertFalse(daemon.stderr.contains("dial failed"), daemon.stderr)
        withExtendedLifetime(genuine) {}
    }

    func testHelloWithoutTheStockadeCapabilityIsUselessPeer() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { daemon.stop() }
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())

        // An eth/68 node: a fine devp2p peer that shares no protocol with this one.
        let key = PrivateKey.generate()
        let ethOnly = Hello(clientID: "geth-like", capabilities: [Capability(name: "eth", version: 68)], listenPort: 0,
                            nodeID: key.publicKey.raw64)
        let useless = PeerAdmission.attempt(enode, key: key, hello: ethOnly)
        XCTAssertEqual(useless.reason, .uselessPeer, "\(useless)\n\(daemon.stderr)")

        // The same key with stk/1 is welcome: the refusal left nothing reserved for it.
        let good = PeerAdmission.attempt(enode, key: key)
        XCTAssertNotNil(good.link, "\(good)\n\(daemon.stderr)")
        // stk/99 has the name but not the version: go-ethereum's matchProtocols needs both.
        let otherKey = PrivateKey.generate()
        let wrongVersion = Hello(clientID: "x", capabilities: [Capability(name: StockadeProtocol.capability.name, version: 99)],
                                 listenPort: 0, nodeID: otherKey.publicKey.raw64)
        XCTAssertEqual(PeerAdmission.attempt(enode, key: otherKey, hello: wrongVersion).reason, .uselessPeer)
        withExtendedLifetime(good) {}
    }

    /// Runs `body` on `count` threads released together; their results.
    static func simultaneous<T>(_ count: Int, _ body: @escaping @Sendable () -> T) -> [T] {
        let results = LockedResults<T>()
        let start = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        for _ in 0..<count {
            Thread.detachNewThread {
                start.wait()
                results.append(body())
                done.signal()
            }
        }
        for _ in 0..<count { start.signal() }
        for _ in 0..<count { done.wait() }
        return results.all
    }
}

/// Results gathered from several threads.
final class LockedResults<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []
    func append(_ item: T) { lock.withLock { items.append(item) } }
    var all: [T] { lock.withLock { items } }
}
