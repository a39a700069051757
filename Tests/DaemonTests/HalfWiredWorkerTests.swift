import Enode
import Foundation
import PeerLink
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9, fault 1: a worker that loses a channel to a live neighbour is replaced and its
/// successor re-wired at once; nothing else restarts, and handshakes go through again.
final class HalfWiredWorkerTests: XCTestCase {
    /// The peer manager gets a bad frame from worker[0] and closes their channel.
    func testPeerManagerClosingAWorkerChannelReplacesTheWorker() throws {
        try halfWire { pids in
            let worker = try XCTUnwrap(pids["worker[0]"]), pm = try XCTUnwrap(pids["peer-manager"])
            let fd = try XCTUnwrap(UnixChannels.descriptor(in: worker, connectedTo: pm), "worker[0] has no channel to the peer manager")
            try UnixChannels.inject(IPCGarbageTests.garbage, into: worker, fd: fd)
        }
    }

    /// worker[0] gets a frame that declares an fd it does not carry, and cuts the channel.
    func testFrameDeclaringMissingDescriptorsReplacesTheWorker() throws {
        try halfWire { pids in
            let worker = try XCTUnwrap(pids["worker[0]"]), pm = try XCTUnwrap(pids["peer-manager"])
            let fd = try XCTUnwrap(UnixChannels.descriptor(in: pm, connectedTo: worker), "the peer manager has no channel to worker[0]")
            // Version 1, DialRequest, "fds attached", 1 fd, empty body, request id 0: no fd rides along.
            try UnixChannels.inject([0x01, 0x25, 0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 0], into: pm, fd: fd)
        }
    }

    private func halfWire(_ cut: ([String: Int32]) throws -> Void) throws {
        let daemon = try DaemonProcess.ready(for: self)
        let enode = try EnodeURL(parsing: daemon.enode())
        let live = try TestPeer.live(enode)
        let before = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount))
        let victim = try XCTUnwrap(before["worker[0]"])

        try cut(before)
        XCTAssertTrue(daemon.waitForLog("worker[0] (pid \(victim)) lost its channel to the peer-manager", timeout: 20),
                      "the lost channel was not reported")
        let after = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount, timeout: 30) { $0["worker[0]"] != victim },
                                  "the half-wired worker was not replaced")
        for role in ["acceptor", "peer-manager", "worker[1]"] { XCTAssertEqual(after[role], before[role], "\(role) was restarted") }

        // Every new handshake succeeds again (the least-loaded worker with the lowest index, the
        // replacement, gets the first ones), the live peer never noticed, and health says 2/2.
        for _ in 0..<4 {
            let link = try TestPeer.dial(enode, timeout: .seconds(20))
            _ = try link.ping(timeout: .seconds(5))
            link.disconnect(.requested)
        }
        _ = try live.ping(timeout: .seconds(5))
        let status = try daemon.status(within: 15) { ($0["workers_up"] as? Int) == TestConfig.workers }
        XCTAssertEqual(status["workers_up"] as? Int, TestConfig.workers, "\(status)")
        XCTAssertEqual(ProcessTable.zombies(of: daemon.pid), [])
    }
}
