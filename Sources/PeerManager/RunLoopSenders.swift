#if canImport(Glibc)
import Glibc
#endif
import IPC
import NIOCore

/// The run loop's way out to the supervisor and the workers without a thread hop (issue 10).
///
/// The IPC thread owns the channels and reads them; the run loop used to hand every frame it
/// sends (two checkpoint verdicts and two peer events per connection) back to that thread
/// through its mailbox, and each hand-off woke the thread: the profile of a connection flood
/// showed those wake-ups and the IPC thread's poll turns as a third of the peer manager's CPU.
/// Instead the run loop writes its frames itself, through a duplicate of each channel's socket:
/// a SOCK_SEQPACKET record is written whole or not at all, so frames from the two threads never
/// interleave within a record, and the IPC thread's own frames (heartbeats) are independent of
/// the run loop's. Every frame the run loop sends goes this way, so its frames keep their order.
///
/// Used only on the run loop's event loop (`init` included: the duplicate is made on the IPC
/// thread, where the original is known to be open, and handed over as a number).
final class RunLoopSenders: @unchecked Sendable {
    /// How soon frames the kernel would not take are tried again. A neighbour's socket buffer
    /// holds hundreds of frames and every neighbour reads in its loop, so this happens only when
    /// one is stalled; a short retry then costs nothing noticeable and needs no readiness watch
    /// (the socket's readiness is the IPC thread's, on the original descriptor).
    static let retryInterval: TimeAmount = .milliseconds(1)

    private let eventLoop: EventLoop
    private var supervisor: Sender?
    private var workers: [Int: Sender] = [:]
    /// Called (on the event loop) once a worker's writer broke: the neighbour closed its end or
    /// stopped reading until the send queue overflowed. The IPC thread then drops the worker's
    /// channel as it does when its own side breaks, so the supervisor re-wires it.
    /// The arguments: the worker's index, the attachment it was given, the error.
    private let workerBroke: @Sendable (Int, Int, IPCChannelError) -> Void

    init(eventLoop: EventLoop, workerBroke: @escaping @Sendable (Int, Int, IPCChannelError) -> Void) {
        self.eventLoop = eventLoop
        self.workerBroke = workerBroke
    }

    /// A duplicate of `fd` for sending from another thread, or -1 (errno set). Call on the
    /// thread that owns `fd`.
    static func duplicate(_ fd: CInt) -> CInt { fcntl(fd, F_DUPFD_CLOEXEC, 0) }

    /// Takes ownership of `fd`, a duplicate of the control channel's socket.
    func attachSupervisor(_ fd: CInt) throws(IPCChannelError) {
        eventLoop.assertInEventLoop()
        supervisor = try Sender(fd: fd, eventLoop: eventLoop)
    }

    /// Takes ownership of `fd`, a duplicate of worker `index`'s socket; replaces (and closes)
    /// the previous one. `attachment` names this wiring of the worker in a break report (the
    /// IPC side may have re-wired it by the time the report arrives).
    func attachWorker(_ index: Int, fd: CInt, attachment: Int) throws(IPCChannelError) {
        eventLoop.assertInEventLoop()
        workers.removeValue(forKey: index)?.close()
        let workerBroke = workerBroke
        workers[index] = try Sender(fd: fd, eventLoop: eventLoop) { error in workerBroke(index, attachment, error) }
    }

    func detachWorker(_ index: Int) {
        eventLoop.assertInEventLoop()
        workers.removeValue(forKey: index)?.close()
    }

    /// Sends to worker `index`; dropped when it has no channel (it is being restarted: its
    /// handshakes are gone with it) or the channel broke (the IPC thread reports that).
    func toWorker(_ index: Int, _ message: IPCMessage, requestID: UInt32) {
        eventLoop.assertInEventLoop()
        workers[index]?.send(message, requestID: requestID)
    }

    func toSupervisor(_ message: IPCMessage, requestID: UInt32) {
        eventLoop.assertInEventLoop()
        supervisor?.send(message, requestID: requestID)
    }

    /// One send-only channel and its retry timer; confined to the event loop like its owner.
    private final class Sender: @unchecked Sendable {
        private let channel: IPCChannel
        private let eventLoop: EventLoop
        private var retry: Scheduled<Void>?
        private var onBroken: ((IPCChannelError) -> Void)?

        init(fd: CInt, eventLoop: EventLoop, onBroken: ((IPCChannelError) -> Void)? = nil) throws(IPCChannelError) {
            // Accepts nothing: it is never read (the IPC thread reads the socket).
            channel = try IPCChannel(adopting: fd, accepting: [])
            self.eventLoop = eventLoop
            self.onBroken = onBroken
            channel.onWriteInterestChange = { [unowned self] wantsWritable in
                if wantsWritable { scheduleRetry() }
            }
        }

        func send(_ message: IPCMessage, requestID: UInt32) {
            do throws(IPCChannelError) { try channel.send(message, requestID: requestID) } catch { broke(error) }
        }

        /// Reports a break once (an encoding error breaks nothing and is only dropped).
        private func broke(_ error: IPCChannelError) {
            guard error.breaksChannel, let report = onBroken else { return }
            onBroken = nil
            report(error)
        }

        func close() {
            retry?.cancel()
            retry = nil
            channel.close()
        }

        private func scheduleRetry() {
            guard retry == nil else { return }
            retry = eventLoop.scheduleTask(in: RunLoopSenders.retryInterval) { [weak self] in
                guard let self else { return }
                retry = nil
                do throws(IPCChannelError) { try channel.flush() } catch { broke(error) }
                if channel.wantsWritable { scheduleRetry() }
            }
        }
    }
}
