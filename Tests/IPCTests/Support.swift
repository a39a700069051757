import CStockade
import Foundation
import IPC
import PollLoop
import TestVectors
import XCTest

/// The example messages of ipc/PROTOCOL.md, keyed by catalogue name. The golden test checks
/// that each encodes to its block in the document.
enum Examples {
    /// The EIP-8 vector's static public key of A: a real node id.
    static let nodeID: [UInt8] = {
        let json = try! TestVectors.json("rlpx-eip8-handshake.json") as! [String: Any]
        let keys = json["keys"] as! [String: Any]
        return TestVectors.hex(keys["static_public_key_a"] as! String)
    }()

    static var frames: [String: IPCFrame] {
        let eth68 = IPCMessage.Capability(name: "eth", version: 68)
        return [
            "ChildReady": IPCFrame(.childReady(.init(role: .worker, index: 3, pid: 4242))),
            "Heartbeat": IPCFrame(.heartbeat(.init(counters: [
                .init(name: "handshakes_ok", value: 17), .init(name: "handshakes_failed", value: 2),
            ]))),
            "AttachChannel": IPCFrame(.attachChannel(.init(neighbourRole: .peerManager, neighbourIndex: 0))),
            "Configure": IPCFrame(.configure(.init(json: #"{"workers":2}"#))),
            "Shutdown": IPCFrame(.shutdown(.init(disconnectReason: 0x08))),
            "ControlRequest": IPCFrame(.controlRequest(.init(json: #"{"command":"peers"}"#)), requestID: 5),
            "ControlReply": IPCFrame(.controlReply(.init(json: #"{"ok":true}"#)), requestID: 5),
            "ChannelLost": IPCFrame(.channelLost(.init(neighbourRole: .peerManager, neighbourIndex: 0, attachment: 2))),
            "WorkerExited": IPCFrame(.workerExited(.init(index: 1, crashed: true))),
            "ConnectStream": IPCFrame(.connectStream(.init(peer: "1a2b3c4d", target: "ssh", origin: "pid 4242",
                                                           earlyData: Array("SSH-".utf8)))),
            "EntryListener": IPCFrame(.entryListener(.init(kind: .forward, listen: "127.0.0.1:8022"))),
            "PeerEvent": IPCFrame(.peerEvent(.init(
                kind: .dropped, nodeID: nodeID, remoteAddress: "192.0.2.7", remotePort: 30303,
                direction: .outbound, disconnectReason: 0x04, detail: "too many peers"))),
            "InboundConnection": IPCFrame(.inboundConnection(.init(
                connectionID: 1, remoteAddress: "2001:db8::1", remotePort: 51234))),
            "HandshakeSlotFreed": IPCFrame(.handshakeSlotFreed(.init(connectionID: 1, outcome: .handedOff))),
            "CheckPostHandshake": IPCFrame(.checkPostHandshake(.init(
                connectionID: 1, nodeID: nodeID, direction: .inbound,
                remoteAddress: "2001:db8::1", remotePort: 51234)), requestID: 7),
            "CheckAddPeer": IPCFrame(.checkAddPeer(.init(
                connectionID: 1, nodeID: nodeID,
                capabilities: [eth68, .init(name: "snap", version: 1)], clientID: "Geth/v1.14.0")), requestID: 8),
            "CheckVerdict": IPCFrame(.checkVerdict(.accept(trusted: false)), requestID: 8),
            "PeerHandoff": IPCFrame(.peerHandoff(.init(
                connectionID: 1, nodeID: nodeID, direction: .inbound, remoteAddress: "2001:db8::1",
                remotePort: 51234, helloVersion: 5, clientID: "Geth/v1.14.0", capabilities: [eth68],
                listenPort: 30303, snappy: true, sessionState: Array(0..<8)))),
            "HandshakeAborted": IPCFrame(.handshakeAborted(.init(
                connectionID: 2, nodeID: [], reason: "hello timeout"))),
            "DialRequest": IPCFrame(.dialRequest(.init(
                connectionID: 9, nodeID: nodeID, address: "198.51.100.4", port: 30303))),
            "DialFailed": IPCFrame(.dialFailed(.init(
                connectionID: 9, nodeID: nodeID, kind: .timeout, detail: "dial timeout"))),
        ]
    }
}

/// File-descriptor bookkeeping for leak checks.
enum FD {
    /// Open fds of this process that this code could have opened. libdispatch opens timerfds
    /// and epoll fds lazily on its own threads, at times no test controls; IPC and PollLoop
    /// use neither (they use poll(2), pipes, sockets and eventfd), so those two kinds are left out.
    static func openCount() -> Int {
        listing().filter { !$0.hasSuffix("anon_inode:[timerfd]") && !$0.hasSuffix("anon_inode:[eventpoll]") }.count
    }

    /// "fd -> target" for every open fd, to explain a leak.
    /// (The directory fd used to list them is closed again before the targets are read, so it
    /// shows as "?" and is left out.)
    static func listing() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.sorted { Int($0) ?? 0 < Int($1) ?? 0 }.map { name in
            "\(name) -> \((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)")) ?? "?")"
        }.filter { !$0.hasSuffix("-> ?") }
    }

    static func isOpen(_ fd: CInt) -> Bool {
        fcntl(fd, F_GETFD) != -1
    }

    /// The number the kernel will give the next fd it opens (the lowest free one).
    static func nextFree() -> CInt {
        let probe = dup(0)
        close(probe)
        return probe
    }

    /// A pipe: (read end, write end), close-on-exec and non-blocking, so that a test reading
    /// for end of file fails (EAGAIN) instead of hanging when a copy of the write end leaked.
    static func pipe() -> (CInt, CInt) {
        var fds: [CInt] = [-1, -1]
        precondition(stockade_pipe_nonblocking(&fds) == 0)
        return (fds[0], fds[1])
    }

    static func closeAll(_ fds: [CInt]) {
        for fd in fds { close(fd) }
    }

    /// A raw SOCK_SEQPACKET pair, both ends blocking, for sending hand-made records.
    static func seqpacketPair() -> (CInt, CInt) {
        var fds: [CInt] = [-1, -1]
        precondition(stockade_seqpacket_pair(&fds) == 0)
        return (fds[0], fds[1])
    }

    /// sendmsg of `bytes` with any number of fds, building the SCM_RIGHTS message by hand
    /// (the C helper stops at STOCKADE_MAX_CONTROL_FDS; this goes past it).
    static func rawSend(_ socket: CInt, _ bytes: [UInt8], fds: [CInt]) -> Int {
        var bytes = bytes
        let headerSize = MemoryLayout<cmsghdr>.size  // CMSG_LEN(0) on LP64 glibc
        let dataLength = fds.count * MemoryLayout<CInt>.size
        let space = headerSize + (dataLength + 7) / 8 * 8  // CMSG_SPACE
        var control = [UInt8](repeating: 0, count: max(space, headerSize))
        control.withUnsafeMutableBytes { raw in
            let header = raw.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
            header.pointee.cmsg_len = headerSize + dataLength
            header.pointee.cmsg_level = SOL_SOCKET
            header.pointee.cmsg_type = CInt(SCM_RIGHTS)
            for (i, fd) in fds.enumerated() {
                raw.storeBytes(of: fd, toByteOffset: headerSize + i * MemoryLayout<CInt>.size, as: CInt.self)
            }
        }
        return bytes.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { controlBytes in
                var iov = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &iov) { iovPointer in
                    var message = msghdr()
                    message.msg_iov = iovPointer
                    message.msg_iovlen = 1
                    if !fds.isEmpty {
                        message.msg_control = controlBytes.baseAddress
                        message.msg_controllen = controlBytes.count
                    }
                    return sendmsg(socket, &message, CInt(MSG_NOSIGNAL))
                }
            }
        }
    }
}

/// Hex with whitespace allowed, for readable test literals.
func hex(_ text: String) -> [UInt8] {
    TestVectors.hex(text.filter { !$0.isWhitespace })
}

/// The glue between an IPCChannel and a PollLoop, as documented in ipc/PROTOCOL.md.
func attach(_ channel: IPCChannel, to loop: PollLoop) throws {
    let fd = channel.fileDescriptor
    try loop.register(fd: fd, interest: .readable) { [unowned channel] events in
        channel.handleReadiness(readable: events.allowsRead, writable: events.contains(.writable))
    }
    channel.onWriteInterestChange = { [weak loop] wantsWritable in
        loop?.setInterest(wantsWritable ? [.readable, .writable] : .readable, for: fd)
    }
    channel.onClose = { [weak loop] in loop?.unregister(fd: fd) }
    if channel.wantsWritable { loop.setInterest([.readable, .writable], for: fd) }
}

/// Runs `loop` until something stops it, with a watchdog that stops it and fails the test if
/// it is still running after `limit` (a hang guard, not a timing assertion).
func runGuarded(_ loop: PollLoop, limit: Duration = .seconds(20), file: StaticString = #filePath, line: UInt = #line) {
    var fired = false
    let watchdog = loop.schedule(after: limit) {
        fired = true
        loop.stop()
    }
    XCTAssertNoThrow(try loop.run(), file: file, line: line)
    loop.cancel(watchdog)
    XCTAssertFalse(fired, "the loop did not finish on its own", file: file, line: line)
}

/// A thread the test can join: once `join()` returns, the body and everything it captured
/// (say a PollLoopRemote, which owns an eventfd) are released, so fd counts are exact.
final class JoinableThread {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    private let handle: pthread_t

    init(_ body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            // Released at the end of this function, before the thread exits.
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        precondition(result == 0, "pthread_create failed: \(result)")
        handle = thread
    }

    func join() {
        pthread_join(handle, nil)
    }
}
