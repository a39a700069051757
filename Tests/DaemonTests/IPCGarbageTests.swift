import CStockade
import Enode
import Foundation
import PeerLink
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A child that sends its supervisor a malformed IPC frame is broken: it alone is restarted.
/// The frame is written into the child's own end of its control channel (its fd 3), taken
/// with pidfd_getfd, so the daemon runs unmodified.
final class IPCGarbageTests: XCTestCase {
    /// Not a frame: version 0xEE, an unknown type, flags with reserved bits, a length that
    /// does not match the record (ipc/PROTOCOL.md "Header").
    static let garbage: [UInt8] = [0xEE, 0xFF, 0xFE, 0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01]

    func testGarbageFrameFromWorkerRestartsOnlyThatWorker() throws {
        try garbageRestartsOnly("worker[0]")
    }

    func testGarbageFrameFromAcceptorRestartsOnlyTheAcceptor() throws {
        try garbageRestartsOnly("acceptor")
    }

    private func garbageRestartsOnly(_ role: String) throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())
        let before = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount))
        let victim = try XCTUnwrap(before[role])

        let stolen = stockade_steal_fd(victim, 3)
        guard stolen >= 0 else {
            throw XCTSkip("pidfd_getfd on pid \(victim) failed: \(String(cString: strerror(errno))) (needs ptrace rights)")
        }
        let sent = Self.garbage.withUnsafeBytes { send(stolen, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        close(stolen)
        XCTAssertEqual(sent, Self.garbage.count)

        XCTAssertTrue(daemon.waitForLog("\(role) control channel broken: IPC neighbour sent a bad frame"), "no bad frame reported")
        // The supervisor kills it; the child may see its channel close and exit first.
        XCTAssertTrue(daemon.waitForLog("\(role) (pid \(victim)) "), "the death of \(role) was not reported")
        let after = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount) { $0[role] != victim },
                                  "\(role) was not restarted")
        for (other, pid) in before where other != role { XCTAssertEqual(after[other], pid, "\(other) was restarted too") }

        // A new handshake goes through the restarted child (the acceptor, or worker[0] as the
        // least-loaded worker with the lowest index).
        let link = try TestPeer.dial(enode, timeout: .seconds(15))
        _ = try link.ping(timeout: .seconds(5))
        link.disconnect(.requested)
        XCTAssertEqual(daemon.rolePids(), after, "a child restarted while serving the new handshake")
    }
}
