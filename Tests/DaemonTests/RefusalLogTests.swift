import DevP2P
import Enode
import Foundation
import PeerLink
import Secp256k1
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's line about a peer it refused says who it is: address, node ID prefix, and once
/// its Hello is in, the client name and (refused as useless) what it offered instead. Inbound
/// and dialed, at either checkpoint (ipc/PROTOCOL.md, CheckPostHandshake and CheckAddPeer).
final class RefusalLogTests: XCTestCase {
    func testInboundRefusalsNameThePeer() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml() + "[peers]\nno_dial = true\n")
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())

        // Useless at the add-peer check: an eth/68 node (go-ethereum's client name and capabilities).
        let geth = TestIdentity()
        let hello = Hello(clientID: "Geth/v1.14.0-stable/linux-amd64/go1.22.4",
                          capabilities: [Capability(name: "eth", version: 68), Capability(name: "snap", version: 1)],
                          listenPort: 30303, nodeID: geth.key.publicKey.raw64)
        XCTAssertEqual(PeerAdmission.attempt(enode, key: geth.key, hello: hello).reason, .uselessPeer)
        let useless = try Self.line(in: daemon, with: "handshake failed: \(geth.shortID)…")
        XCTAssertTrue(useless.contains("refused by this node: "), useless)
        XCTAssertTrue(useless.contains(#"(client "Geth/v1.14.0-stable/linux-amd64/go1.22.4", offers eth/68, snap/1; Stockade needs stk/1)"#), useless)
        XCTAssertTrue(useless.contains("(inbound 127.0.0.1:"), useless)

        // Refused at the post-handshake check (AlreadyConnected): no Hello yet, and it says so.
        let twin = TestIdentity()
        let first = PeerAdmission.attempt(enode, key: twin.key)
        XCTAssertNotNil(first.link, "\(first)")
        XCTAssertEqual(PeerAdmission.attempt(enode, key: twin.key).reason, .alreadyConnected)
        let again = try Self.line(in: daemon, with: "handshake failed: \(twin.shortID)…")
        XCTAssertTrue(again.contains("refused by this node: "), again)
        XCTAssertTrue(again.contains("(before its Hello)"), again)
        XCTAssertTrue(again.contains("(inbound 127.0.0.1:"), again)
        withExtendedLifetime(first) {}
    }

    func testRefusedDialNamesThePeer() throws {
        // A node that answers the daemon's dial as an eth-only client would.
        let key = PrivateKey.generate()
        let listener = try EthOnlyListener(key: key, clientID: "eth-only/v0.1")
        defer { listener.stop() }
        let url = "enode://\(NodeID(publicKey: key.publicKey).hex)@127.0.0.1:\(listener.port)"
        let daemon = try DaemonProcess(["run", "--static", url], config: TestConfig.toml())
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()

        let line = try Self.line(in: daemon, with: "handshake failed: \(TestPeer.logID(key))…", timeout: 20)
        XCTAssertTrue(line.contains("dial failed: refused by this node: "), line)
        XCTAssertTrue(line.contains(#"(client "eth-only/v0.1", offers eth/68; Stockade needs stk/1)"#), line)
        XCTAssertTrue(line.contains("(outbound 127.0.0.1:\(listener.port))"), line)
    }

    /// The first line of the daemon's stderr containing `needle`, waiting up to `timeout`.
    static func line(in daemon: DaemonProcess, with needle: String, timeout: TimeInterval = 15) throws -> String {
        guard daemon.waitForLog(needle, timeout: timeout),
              let line = daemon.stderr.split(separator: "\n").first(where: { $0.contains(needle) }) else {
            throw DaemonTestError("no line with \(needle); stderr:\n\(daemon.stderr)")
        }
        return String(line)
    }
}

/// A listening devp2p node on 127.0.0.1 that completes the handshake as responder with a Hello
/// offering only eth/68, then reads until the dialer hangs up. Stops within 100 ms of `stop()`.
final class EthOnlyListener: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let lock = NSLock()
    private var stopped = false
    private var running = true

    init(key: PrivateKey, clientID: String) throws {
        guard let any = SocketAddress(ip: "127.0.0.1", port: 0) else { throw DaemonTestError("bad address") }
        fd = try TCPSocket.listen(on: any)
        guard let bound = SocketAddress.local(of: fd) else { throw DaemonTestError("getsockname failed") }
        port = bound.port
        let hello = Hello(clientID: clientID, capabilities: [Capability(name: "eth", version: 68)], listenPort: UInt64(port),
                          nodeID: key.publicKey.raw64)
        Thread.detachNewThread { [self] in
            defer { lock.withLock { running = false } }
            let end = Date().addingTimeInterval(60)
            while !isStopped, Date() < end {
                guard TCPSocket.waitFor(fd, events: Int16(POLLIN), timeoutMilliseconds: 100) else { continue }
                let conn = Glibc.accept(fd, nil, nil)
                guard conn >= 0 else { continue }
                guard let link = try? PeerLink.accept(fd: conn, key: key, hello: hello, timeout: .seconds(5)) else {
                    Glibc.close(conn)
                    continue
                }
                // The dialer's Disconnect(UselessPeer), or its close.
                _ = try? link.receive(timeout: .seconds(5))
                link.close()
            }
        }
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    func stop() {
        lock.withLock { stopped = true }
        let end = Date().addingTimeInterval(10)
        while lock.withLock({ running }) && Date() < end { usleep(20_000) }
        Glibc.close(fd)
    }
}
