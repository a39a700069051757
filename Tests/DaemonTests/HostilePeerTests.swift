import Enode
import Foundation
import PeerLink
import TestVectors
import XCTest

/// Hostile inbound connections cost only themselves: each is closed, the daemon keeps serving
/// others meanwhile, and no worker dies (ARCHITECTURE.md "Security boundaries"). Each hostile
/// host has its own loopback address, as on a real network; the honest peers come from
/// 127.0.0.1. (Sharing one address, three garbage connections would earn it the acceptor's
/// per-source penalty, which RulesAdmissionTests covers.)
final class HostilePeerTests: XCTestCase {
    func testHostileConnectionsCostOnlyTheirOwnConnection() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())
        let live = try TestPeer.dial(enode)
        _ = try live.ping(timeout: .seconds(5))
        let before = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount))

        // Connects first and says nothing: it holds a handshake slot until its first-bytes
        // deadline (2 s, within go-ethereum's 5 s handshakeTimeout), while everything below goes on.
        let silent = try RawConnection(to: enode, from: "127.0.0.11")

        // An EIP-8 size prefix far above the 2 KiB packet cap: refused on the prefix alone.
        let oversize = try RawConnection(to: enode, from: "127.0.0.12")
        try oversize.write([0xFF, 0xFF] + [UInt8](repeating: 0x42, count: 64))

        // Garbage of a plausible size: a 384-byte "EIP-8 packet" that is no ECIES message.
        let garbage = try RawConnection(to: enode, from: "127.0.0.13")
        var rng = SystemRandomNumberGenerator()
        try garbage.write([0x01, 0x80] + (0..<384).map { _ in UInt8.random(in: 0...255, using: &rng) })

        // A well-formed published EIP-8 auth (Auth2), sealed for node B's key, not this node's.
        let vectors = try XCTUnwrap(TestVectors.json("rlpx-eip8-handshake.json") as? [String: Any])
        let messages = try XCTUnwrap(vectors["messages"] as? [String: Any])
        let auth2 = try XCTUnwrap((messages["auth2"] as? [String: Any])?["hex"] as? String)
        let misdirected = try RawConnection(to: enode, from: "127.0.0.14")
        try misdirected.write(TestVectors.hex(auth2))

        for (name, connection) in [("oversize prefix", oversize), ("garbage", garbage), ("auth for another key", misdirected)] {
            XCTAssertTrue(connection.waitClosedByRemote(timeout: 10), "\(name): connection left open")
        }
        // With the silent connection still in its handshake, others are served.
        let fresh = try TestPeer.dial(enode)
        _ = try fresh.ping(timeout: .seconds(5))
        _ = try live.ping(timeout: .seconds(5))
        fresh.disconnect(.requested)

        XCTAssertTrue(silent.waitClosedByRemote(timeout: 15), "the silent connection outlived its handshake deadline")
        _ = try live.ping(timeout: .seconds(5))
        let another = try TestPeer.dial(enode)
        _ = try another.ping(timeout: .seconds(5))
        another.disconnect(.requested)

        XCTAssertEqual(daemon.rolePids(), before, "a child died")
        XCTAssertFalse(daemon.stderr.contains("killed by signal"))
        XCTAssertFalse(daemon.stderr.contains("exited with status"))
    }
}
