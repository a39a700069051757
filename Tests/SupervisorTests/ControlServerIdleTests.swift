#if canImport(Glibc)
import Glibc
#endif
import Control
import Foundation
import PollLoop
import XCTest
@testable import Supervisor

/// Issue 9, fault 11: an idle command connection is closed after the idle timeout; one that
/// keeps asking is kept, and an `events` stream is never idle.
final class ControlServerIdleTests: XCTestCase {
    func testIdleCommandConnectionsAreClosedButStreamsAreKept() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-ctl-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("control.sock").path
        let loop = try PollLoop()
        let server = try ControlServer(path: path, loop: loop, idleTimeout: .milliseconds(600))
        server.handler = { _, reply in reply(.success(ControlResult(message: "ok"))) }
        // The server lives on its loop's thread from here; the test only speaks as clients.
        let box = LoopBox(loop: loop, server: server)
        let thread = Thread { try? box.loop.run() }
        thread.start()
        defer {
            box.loop.execute { box.server.shutdown(); box.loop.removeAll(); box.loop.stop() }
            while !thread.isFinished { usleep(10_000) }
        }

        let idle = try ControlClient(path: path)
        let watcher = try ControlClient(path: path)
        try watcher.send(ControlRequest(command: .events))
        XCTAssertNotNil(try watcher.readLine(timeoutSeconds: 5), "no answer to events")
        let busy = try ControlClient(path: path)
        for _ in 0..<5 {
            XCTAssertTrue(try busy.call(ControlRequest(command: .status)).ok)
            usleep(300_000)
        }
        // 1.5 s on: the idle one is gone (end of stream), the other two are open (no line yet).
        XCTAssertNil(try idle.readLine(timeoutSeconds: 2), "an idle connection outlived its timeout")
        XCTAssertThrowsError(try watcher.readLine(timeoutSeconds: 0), "the events stream was closed")
        XCTAssertTrue(try busy.call(ControlRequest(command: .status)).ok)
    }
}

/// The loop and server, handed to the loop's thread (used only there once it runs).
private final class LoopBox: @unchecked Sendable {
    let loop: PollLoop
    let server: ControlServer
    init(loop: PollLoop, server: ControlServer) {
        self.loop = loop
        self.server = server
    }
}
