import Enode
import Foundation
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The SOCKS5 entry handed in by systemd's socket activation (FileDescriptorName=socks5): the
/// first SOCKS5 client's connection starts the daemon, which serves that very client through a
/// session to a second daemon's service.
final class SocketActivatedEntryTests: XCTestCase {
    func testFirstSOCKS5ClientStartsTheDaemonAndIsServed() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: DaemonProcess.socketActivateTool),
                          "\(DaemonProcess.socketActivateTool) is not installed")
        let echo = try EchoServer()
        defer { echo.stop() }

        // A's identity first: B's rules must name it before A runs.
        let keyDir = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-key-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: keyDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: keyDir) }
        let keyA = keyDir.appendingPathComponent("nodekey").path
        XCTAssertEqual(try DaemonProcess.stockade(["keygen", "--out", keyA]).status, 0)
        let idA = try EnodeURL(parsing: try DaemonProcess.stockade(["enode", "--key", keyA]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)).nodeID.hex

        let b = try DaemonProcess(["run"], config: TestConfig.toml() + """
            [services]
            echo = "127.0.0.1:\(echo.port)"
            [[allow]]
            peers = ["\(idA)"]
            targets = ["echo"]

            """)
        defer { b.stop() }
        b.logOnFailure(of: self, label: "exit B")
        try b.waitReady()
        let enodeB = try b.enode()
        let idB = try EnodeURL(parsing: enodeB).nodeID.hex

        // A: devp2p and SOCKS5 sockets from the tool; [socks5] names no listen address.
        let devp2pPort = try freeLoopbackPort(), socksPort = try freeLoopbackPort()
        let a = try DaemonProcess.socketActivated(
            listen: "127.0.0.1:\(devp2pPort)", entries: [("socks5", "127.0.0.1:\(socksPort)")],
            config: TestConfig.toml() + """
                [node]
                key_file = "\(keyA)"
                [peers]
                static = ["\(enodeB)"]

                """)
        defer { a.stop() }
        a.logOnFailure(of: self, label: "socket-activated A")
        guard let socks = SocketAddress(ip: "127.0.0.1", port: socksPort) else { return XCTFail("bad address") }

        // The first connection to the SOCKS5 socket is what starts A.
        let c = try XCTUnwrap(RawConnection.once(listening: socks), "systemd-socket-activate never listened on \(socksPort)")
        try c.write([0x05, 0x01, 0x00])
        XCTAssertEqual(c.read(exactly: 2, timeout: 30), [0x05, 0x00], "no SOCKS5 method reply from the started daemon")
        let name = Array("echo.\(idB.prefix(12)).stk".utf8)
        try c.write([0x05, 0x01, 0x00, 0x03, UInt8(name.count)] + name + [0x00, 0x07])
        // Succeeded once A has dialed B (a static node: the open waits for it) and B connected.
        let reply = c.read(exactly: 10, timeout: 30)
        XCTAssertEqual(reply?.prefix(2), [0x05, 0x00], "SOCKS5 reply \(reply.map { "\($0)" } ?? "none")")
        try c.write(Array("through the socket-activated entry\n".utf8))
        XCTAssertEqual(c.read(exactly: 35, timeout: 15).map { String(decoding: $0, as: UTF8.self) }, "through the socket-activated entry\n")
        XCTAssertTrue(a.stderr.contains("socket-activated SOCKS5 entry on 127.0.0.1:\(socksPort)"), "the supervisor did not say where the entry came from")
        XCTAssertTrue(a.stderr.contains("socket-activated on 127.0.0.1:\(devp2pPort)"), "devp2p was not taken from the tool")

        // A restarted peer manager listens on the same socket again: the supervisor kept it.
        let pm = try XCTUnwrap(a.rolePids()["peer-manager"])
        kill(pm, SIGKILL)
        XCTAssertNotNil(a.waitForChildren(TestConfig.childCount, timeout: 20) { $0["peer-manager"] != nil && $0["peer-manager"] != pm },
                        "the peer manager was not restarted")
        XCTAssertTrue(a.waitForLog("SOCKS5 entry on socket-activated 127.0.0.1:\(socksPort)", times: 2), "the new peer manager did not take the socket")
        let again = try RawConnection(to: socks)
        try again.write([0x05, 0x01, 0x00])
        XCTAssertEqual(again.read(exactly: 2, timeout: 10), [0x05, 0x00], "the restarted peer manager does not serve the entry")
    }
}

/// A TCP echo server on 127.0.0.1, one thread per connection.
final class EchoServer: @unchecked Sendable {
    let fd: Int32
    let port: UInt16

    init() throws {
        guard let any = SocketAddress(ip: "127.0.0.1", port: 0) else { throw DaemonTestError("bad address") }
        fd = try TCPSocket.listen(on: any)
        guard let bound = SocketAddress.local(of: fd) else { throw DaemonTestError("getsockname failed") }
        port = bound.port
        let listener = fd
        Thread.detachNewThread {
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 { if errno == EINTR || errno == EAGAIN { usleep(10_000); continue } else { return } }
                Thread.detachNewThread {
                    var buffer = [UInt8](repeating: 0, count: 16 * 1024)
                    while true {
                        let n = buffer.withUnsafeMutableBytes { read(c, $0.baseAddress, $0.count) }
                        if n <= 0 { break }
                        _ = buffer.withUnsafeBytes { send(c, $0.baseAddress, n, Int32(MSG_NOSIGNAL)) }
                    }
                    close(c)
                }
            }
        }
    }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}
