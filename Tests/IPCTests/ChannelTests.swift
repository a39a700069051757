import CStockade
import Foundation
import IPC
import XCTest

/// IPCChannel over real socketpairs: fds pass and work, every fd a bad record brings is closed,
/// the send queue is bounded, and a broken neighbour is a typed error.
final class ChannelTests: XCTestCase {
    private var baseline = 0

    override func setUp() {
        baseline = FD.openCount()
    }

    override func tearDown() {
        // Every test closes what it opened: the process is back at its fd count.
        XCTAssertEqual(FD.openCount(), baseline, "fd leak: \(FD.listing())")
    }

    private let inbound = IPCMessage.inboundConnection(.init(connectionID: 7, remoteAddress: "127.0.0.1", remotePort: 40000))
    private let ready = IPCMessage.childReady(.init(role: .worker, index: 0, pid: 1))

    private func assertReceiveFails(_ channel: IPCChannel, _ expected: IPCChannelError,
                                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try channel.receive(), file: file, line: line) { error in
            XCTAssertEqual(error as? IPCChannelError, expected, file: file, line: line)
        }
        XCTAssertEqual(channel.failure, expected, "the channel stays broken", file: file, line: line)
    }

    func testFramesRoundTripOverASocketpair() throws {
        let (a, b) = try IPCChannel.makePair()
        XCTAssertNil(try b.receive(), "nothing to read yet")
        for (_, frame) in Examples.frames where frame.message.type.descriptorCount == 0 {
            try a.send(frame.message, requestID: frame.requestID)
            let received = try XCTUnwrap(try b.receive())
            XCTAssertEqual(received.frame, frame)
            XCTAssertEqual(received.descriptors, [])
        }
        a.close()
        b.close()
    }

    func testAPassedPipeEndIsUsable() throws {
        let (a, b) = try IPCChannel.makePair()
        let (readEnd, writeEnd) = FD.pipe()
        try a.send(inbound, transferring: [writeEnd])
        let received = try XCTUnwrap(try b.receive())
        XCTAssertEqual(received.message, inbound)
        XCTAssertEqual(received.descriptors.count, 1)
        let passed = received.descriptors[0]
        XCTAssertEqual(fcntl(passed, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, "received with MSG_CMSG_CLOEXEC")

        // Write through the received end, read from the pipe end that never left this test.
        let text = Array("through SCM_RIGHTS".utf8)
        XCTAssertEqual(write(passed, text, text.count), text.count)
        close(passed)
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(readEnd, &buffer, buffer.count)
        XCTAssertEqual(Array(buffer.prefix(max(n, 0))), text)
        // The channel closed the sender's copy once sent, so the pipe is at end of file now.
        XCTAssertEqual(read(readEnd, &buffer, buffer.count), 0)
        close(readEnd)
        a.close()
        b.close()
    }

    func testSendClosesTransferredFDsOnceSent() throws {
        let (a, b) = try IPCChannel.makePair()
        let (readEnd, writeEnd) = FD.pipe()
        try a.send(inbound, transferring: [writeEnd])
        XCTAssertFalse(FD.isOpen(writeEnd))
        let received = try XCTUnwrap(try b.receive())
        FD.closeAll(received.descriptors + [readEnd])
        a.close()
        b.close()
    }

    func testAnUnexpectedFDIsClosed() throws {
        let (raw, receiverEnd) = FD.seqpacketPair()
        let receiver = try IPCChannel(adopting: receiverEnd)
        let (readEnd, writeEnd) = FD.pipe()
        let countWithPipe = FD.openCount()
        // A ChildReady (which carries no fd, and whose header says none) with a pipe end attached.
        let bytes = try IPCFrame(ready).encoded()
        XCTAssertEqual(stockade_send_with_fds(raw, bytes, bytes.count, [writeEnd], 1), bytes.count)
        close(writeEnd)
        let expectedNumber = FD.nextFree()  // where the kernel will install the received copy
        assertReceiveFails(receiver, .badFrame(.descriptorCountMismatch(declared: 0, received: 1)))
        XCTAssertFalse(FD.isOpen(expectedNumber), "the received fd was closed")
        XCTAssertEqual(FD.openCount(), countWithPipe - 1, "only the sender's closed copy is gone")
        // With every copy of the write end closed, the pipe reads end of file.
        var byte: UInt8 = 0
        XCTAssertEqual(read(readEnd, &byte, 1), 0)
        close(readEnd)
        close(raw)
        receiver.close()
    }

    func testAnFDOnATypeThatCarriesNoneIsClosedEvenWhenTheHeaderDeclaresIt() throws {
        let (raw, receiverEnd) = FD.seqpacketPair()
        let receiver = try IPCChannel(adopting: receiverEnd)
        let (readEnd, writeEnd) = FD.pipe()
        var bytes = try IPCFrame(ready).encoded()
        bytes[2] = 1  // flags: fds attached
        bytes[3] = 1  // fd count
        XCTAssertEqual(stockade_send_with_fds(raw, bytes, bytes.count, [writeEnd], 1), bytes.count)
        close(writeEnd)
        let expectedNumber = FD.nextFree()
        assertReceiveFails(receiver, .badFrame(.unexpectedDescriptors(type: .childReady, expected: 0, declared: 1)))
        XCTAssertFalse(FD.isOpen(expectedNumber))
        FD.closeAll([readEnd, raw])
        receiver.close()
    }

    func testFDsOfAFrameWithABadBodyAreClosed() throws {
        let (raw, receiverEnd) = FD.seqpacketPair()
        let receiver = try IPCChannel(adopting: receiverEnd)
        let (readEnd, writeEnd) = FD.pipe()
        var bytes = try IPCFrame(inbound).encoded()
        bytes.append(0)  // trailing byte
        bytes[7] += 1    // keep the header's length honest
        XCTAssertEqual(stockade_send_with_fds(raw, bytes, bytes.count, [writeEnd], 1), bytes.count)
        close(writeEnd)
        assertReceiveFails(receiver, .badFrame(.trailingBytes(count: 1)))
        var byte: UInt8 = 0
        XCTAssertEqual(read(readEnd, &byte, 1), 0, "no copy of the write end survives")
        FD.closeAll([readEnd, raw])
        receiver.close()
    }

    /// Five fds: the C helper takes the first four, closes the fifth and reports MSG_CTRUNC.
    func testMoreFDsThanAFrameMayCarryAreAllClosed() throws {
        let (raw, receiverEnd) = FD.seqpacketPair()
        let receiver = try IPCChannel(adopting: receiverEnd)
        let pipes = (0..<5).map { _ in FD.pipe() }
        let bytes = try IPCFrame(inbound).encoded()
        XCTAssertEqual(FD.rawSend(raw, bytes, fds: pipes.map(\.1)), bytes.count)
        FD.closeAll(pipes.map(\.1))
        assertReceiveFails(receiver, .descriptorsTruncated)
        for (readEnd, _) in pipes {
            var byte: UInt8 = 0
            XCTAssertEqual(read(readEnd, &byte, 1), 0, "every passed write end was closed")
        }
        FD.closeAll(pipes.map(\.0) + [raw])
        receiver.close()
    }

    /// Twenty fds: beyond the receiver's control buffer (16), so the kernel itself truncates
    /// (MSG_CTRUNC) and closes the rest; the helper closes the 16 it got.
    func testKernelControlTruncationIsHandled() throws {
        let (raw, receiverEnd) = FD.seqpacketPair()
        let receiver = try IPCChannel(adopting: receiverEnd)
        let pipes = (0..<20).map { _ in FD.pipe() }
        let bytes = try IPCFrame(inbound).encoded()
        XCTAssertEqual(FD.rawSend(raw, bytes, fds: pipes.map(\.1)), bytes.count)
        FD.closeAll(pipes.map(\.1))
        let before = FD.openCount()
        assertReceiveFails(receiver, .descriptorsTruncated)
        XCTAssertEqual(FD.openCount(), before)
        for (readEnd, _) in pipes {
            var byte: UInt8 = 0
            XCTAssertEqual(read(readEnd, &byte, 1), 0)
        }
        FD.closeAll(pipes.map(\.0) + [raw])
        receiver.close()
    }

    func testARecordLongerThanTheLargestFrameIsTruncatedAndRejected() throws {
        let (raw, receiverEnd) = FD.seqpacketPair()
        let receiver = try IPCChannel(adopting: receiverEnd)
        var size = CInt(4 * IPCLimits.maxRecordLength)
        setsockopt(raw, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        let record = [UInt8](repeating: 1, count: IPCLimits.maxRecordLength + 1)
        XCTAssertEqual(stockade_send_with_fds(raw, record, record.count, nil, 0), record.count)
        assertReceiveFails(receiver, .recordTruncated)
        close(raw)
        receiver.close()
    }

    func testAMalformedHeaderBreaksTheChannel() throws {
        let (raw, receiverEnd) = FD.seqpacketPair()
        let receiver = try IPCChannel(adopting: receiverEnd)
        var bytes = try IPCFrame(ready).encoded()
        bytes[0] = 9
        XCTAssertEqual(stockade_send_with_fds(raw, bytes, bytes.count, nil, 0), bytes.count)
        let valid = try IPCFrame(ready).encoded()
        XCTAssertEqual(stockade_send_with_fds(raw, valid, valid.count, nil, 0), valid.count)
        assertReceiveFails(receiver, .badFrame(.unsupportedVersion(9)))
        // Broken for good: the valid frame behind it is not delivered.
        assertReceiveFails(receiver, .badFrame(.unsupportedVersion(9)))
        close(raw)
        receiver.close()
    }

    func testAFrameOfATypeThisEndDoesNotAcceptBreaksTheChannel() throws {
        let (supervisor, worker) = try IPCChannel.makePair(
            accepting: IPCMessageType.types(from: .worker, to: .supervisor),
            IPCMessageType.types(from: .supervisor, to: .worker))
        try supervisor.send(.shutdown(.init(disconnectReason: 8)))
        XCTAssertEqual(try worker.receive()?.message, .shutdown(.init(disconnectReason: 8)))
        // A supervisor does not get InboundConnection from a worker; its fd is closed.
        let (readEnd, writeEnd) = FD.pipe()
        try worker.send(inbound, transferring: [writeEnd])
        assertReceiveFails(supervisor, .unexpectedMessage(.inboundConnection))
        var byte: UInt8 = 0
        XCTAssertEqual(read(readEnd, &byte, 1), 0)
        FD.closeAll([readEnd])
        supervisor.close()
        worker.close()
    }

    func testEndOfFileIsPeerClosedAfterTheQueuedRecords() throws {
        let (a, b) = try IPCChannel.makePair()
        try a.send(ready)
        try a.send(.shutdown(.init(disconnectReason: 8)))
        a.close()
        XCTAssertEqual(try b.receive()?.message, ready)
        XCTAssertEqual(try b.receive()?.message, .shutdown(.init(disconnectReason: 8)))
        assertReceiveFails(b, .peerClosed)
        b.close()
    }

    func testSendingToAClosedPeerIsPeerClosedAndClosesTheFDs() throws {
        let (a, b) = try IPCChannel.makePair()
        b.close()
        let (readEnd, writeEnd) = FD.pipe()
        XCTAssertThrowsError(try a.send(inbound, transferring: [writeEnd])) { error in
            XCTAssertEqual(error as? IPCChannelError, .peerClosed)
        }
        XCTAssertFalse(FD.isOpen(writeEnd))
        close(readEnd)
        a.close()
    }

    func testAnEncodingErrorLeavesTheChannelUsableAndClosesTheFDs() throws {
        let (a, b) = try IPCChannel.makePair()
        let (readEnd, writeEnd) = FD.pipe()
        let bad = IPCMessage.inboundConnection(.init(connectionID: 1, remoteAddress: "not an ip", remotePort: 1))
        XCTAssertThrowsError(try a.send(bad, transferring: [writeEnd])) { error in
            let channelError = error as? IPCChannelError
            XCTAssertEqual(channelError, .encoding(.invalidAddress(field: "InboundConnection.remoteAddress")))
            XCTAssertEqual(channelError?.breaksChannel, false)
        }
        XCTAssertFalse(FD.isOpen(writeEnd))
        // Wrong fd count for the type: also refused, also closed.
        let (r2, w2) = FD.pipe()
        XCTAssertThrowsError(try a.send(ready, transferring: [w2])) { error in
            XCTAssertEqual(error as? IPCChannelError, .encoding(.wrongDescriptorCount(type: .childReady, expected: 0, supplied: 1)))
        }
        XCTAssertFalse(FD.isOpen(w2))
        XCTAssertNil(a.failure)
        try a.send(ready)
        XCTAssertEqual(try b.receive()?.message, ready)
        FD.closeAll([readEnd, r2])
        a.close()
        b.close()
    }

    func testFramesQueueWhileTheSocketWouldBlockAndFlushInOrder() throws {
        let (a, b) = try IPCChannel.makePair()
        var interest: [Bool] = []
        a.onWriteInterestChange = { interest.append($0) }
        // Send until the socket refuses and the channel starts queueing.
        var sent: [UInt64] = []
        var pipes: [CInt] = []
        while a.queuedFrameCount < 3 {
            let (readEnd, writeEnd) = FD.pipe()
            pipes.append(readEnd)
            let id = UInt64(sent.count)
            try a.send(.inboundConnection(.init(connectionID: id, remoteAddress: "::1", remotePort: 1)),
                       transferring: [writeEnd])
            sent.append(id)
            XCTAssertLessThan(sent.count, 10_000, "the socket never filled")
        }
        XCTAssertTrue(a.wantsWritable)
        XCTAssertEqual(interest, [true])
        // Drain the receiver, flushing the sender as room appears.
        var received: [UInt64] = []
        while received.count < sent.count {
            if let frame = try b.receive() {
                guard case .inboundConnection(let m) = frame.message else { return XCTFail("\(frame.message)") }
                received.append(m.connectionID)
                XCTAssertEqual(frame.descriptors.count, 1)
                FD.closeAll(frame.descriptors)
            } else {
                try a.flush()
            }
        }
        XCTAssertEqual(received, sent)
        XCTAssertFalse(a.wantsWritable)
        XCTAssertEqual(interest, [true, false])
        // Every queued write end was closed by the channel after sending: each pipe is at EOF.
        for readEnd in pipes {
            var byte: UInt8 = 0
            XCTAssertEqual(read(readEnd, &byte, 1), 0)
        }
        FD.closeAll(pipes)
        a.close()
        b.close()
    }

    func testQueueOverflowBreaksTheChannelAndClosesQueuedFDs() throws {
        let (a0, b0) = IPCChannelTestPair.make(maxQueuedFrames: 2)
        let a = try a0(), b = try b0()
        var readEnds: [CInt] = []
        var caught: IPCChannelError?
        for i in 0..<10_000 {
            let (readEnd, writeEnd) = FD.pipe()
            readEnds.append(readEnd)
            do {
                try a.send(.inboundConnection(.init(connectionID: UInt64(i), remoteAddress: "::1", remotePort: 1)),
                           transferring: [writeEnd])
            } catch {
                caught = error
                break
            }
        }
        let frameSize = try IPCFrame(.inboundConnection(.init(connectionID: 0, remoteAddress: "::1", remotePort: 1))).encoded().count
        XCTAssertEqual(caught, .sendQueueOverflow(frames: 3, bytes: 3 * frameSize))
        XCTAssertEqual(a.failure, caught)
        XCTAssertEqual(a.queuedFrameCount, 0, "queued frames were dropped")
        XCTAssertFalse(a.wantsWritable)
        // Read what did get through; then every write end, sent or dropped, is closed.
        while let frame = try b.receive() { FD.closeAll(frame.descriptors) }
        for readEnd in readEnds {
            var byte: UInt8 = 0
            XCTAssertEqual(read(readEnd, &byte, 1), 0)
        }
        FD.closeAll(readEnds)
        a.close()
        b.close()
    }

    func testCloseReleasesQueuedFDsAndIsIdempotent() throws {
        let (a, b) = try IPCChannel.makePair()
        var readEnds: [CInt] = []
        while a.queuedFrameCount < 2 {
            let (readEnd, writeEnd) = FD.pipe()
            readEnds.append(readEnd)
            try a.send(inbound, transferring: [writeEnd])
        }
        var closed = 0
        a.onClose = { closed += 1 }
        a.close()
        a.close()
        XCTAssertEqual(closed, 1)
        XCTAssertEqual(a.failure, .closed)
        XCTAssertThrowsError(try a.send(ready)) { XCTAssertEqual($0 as? IPCChannelError, .closed) }
        while true {
            do { guard let frame = try b.receive() else { break }; FD.closeAll(frame.descriptors) } catch { break }
        }
        for readEnd in readEnds {
            var byte: UInt8 = 0
            XCTAssertEqual(read(readEnd, &byte, 1), 0)
        }
        FD.closeAll(readEnds)
        b.close()
    }

    func testOnlySeqpacketSocketsAreAdopted() throws {
        let (readEnd, writeEnd) = FD.pipe()
        XCTAssertThrowsError(try IPCChannel(adopting: readEnd)) {
            XCTAssertEqual($0 as? IPCChannelError, .notSeqPacketSocket)
        }
        XCTAssertFalse(FD.isOpen(readEnd), "ownership passed even on failure")
        close(writeEnd)
        var fds: [CInt] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue), 0, &fds), 0)
        XCTAssertThrowsError(try IPCChannel(adopting: fds[0])) {
            XCTAssertEqual($0 as? IPCChannelError, .notSeqPacketSocket)
        }
        close(fds[1])
    }
}

/// Channels with a custom queue bound, built from one fresh socketpair.
enum IPCChannelTestPair {
    static func make(maxQueuedFrames: Int) -> (() throws -> IPCChannel, () throws -> IPCChannel) {
        let (x, y) = try! IPCChannel.makeSocketPair()
        return ({ try IPCChannel(adopting: x, maxQueuedFrames: maxQueuedFrames) }, { try IPCChannel(adopting: y) })
    }
}
