#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// A TCP forward's listening socket, served on the event loop of its peer's link (the peer
/// manager spreads links over several loops): a forward's peer is known before any client
/// comes, so its clients are accepted where their sessions run, with no bridge
/// (`LoopBridge`) between loops. NIO channels cannot move between loops, so the socket stays
/// bound in `fd` and NIO gets a duplicate: moving is closing that channel (its dup only, so the
/// socket and its backlog stay) and listening on a fresh dup on the new loop.
///
/// Confined to the run loop (the entry listeners' loop); `accept` runs on the loop that
/// accepted, with that loop's router.
final class ForwardListener {
    let peer: [UInt8]
    private let fd: CInt
    /// Whether `fd` is ours to close (a socket-activated one is the entry listeners').
    private let ownsFD: Bool
    private let address: String
    private let log: (String) -> Void
    private let accept: (Channel, StreamRouter) -> Void
    private var channel: EventLoopFuture<Channel>?
    /// The router whose loop serves the socket now.
    private(set) var router: StreamRouter

    /// Starts listening on `router`'s loop; `fd` is a bound, listening socket.
    init(fd: CInt, ownsFD: Bool, address: String, peer: [UInt8], router: StreamRouter, log: @escaping (String) -> Void,
         accept: @escaping (Channel, StreamRouter) -> Void) throws {
        self.fd = fd
        self.ownsFD = ownsFD
        self.address = address
        self.peer = peer
        self.router = router
        self.log = log
        self.accept = accept
        try start()
    }

    private func start() throws {
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw EntryError.badTarget("cannot dup the listening socket: \(String(cString: strerror(errno)))") }
        let router = self.router, accept = self.accept, log = self.log, address = self.address
        let listener = ServerBootstrap(group: router.eventLoop)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                accept(channel, router)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .withBoundSocket(copy)
        listener.whenFailure { error in log("listener \(address) failed: \(error)") }
        channel = listener
    }

    /// Serves the socket on `other`'s loop from now on. A client accepted by the old loop
    /// meanwhile is served there (its open fails if the link has gone from that loop).
    func move(to other: StreamRouter) {
        guard other !== router else { return }
        channel?.whenSuccess { $0.close(promise: nil) }
        router = other
        do { try start() } catch { log("forward \(address) not moved to its link's loop: \(error)") }
    }

    func stop() {
        channel?.whenSuccess { $0.close(promise: nil) }
        channel = nil
        if ownsFD { close(fd) }
    }
}
