#if canImport(Glibc)
import Glibc
#endif
import CStockade
import NIOCore
import NIOPosix

/// Mode `adopt-cost` (issue 10: "if swift-nio's channel setup is itself the cost, measure it
/// against a plain epoll loop"). What taking over a connected TCP socket, and later closing it,
/// costs the loop that does it, in CPU time of that loop's thread:
///
/// - nio: `ClientBootstrap.withConnectedSocket` with the peer manager's options (write-buffer
///   watermark, NIO's own TCP_NODELAY) and one handler, as PeerRunLoop.adopt does it, on the
///   event loop's thread; then `close` of each channel;
/// - epoll: what a plain epoll loop must do for the same: O_NONBLOCK, TCP_NODELAY, an object for
///   the connection in a table, EPOLL_CTL_ADD; then EPOLL_CTL_DEL, close.
///
/// Per run, `batch` fresh loopback connections per side (the two sides alternate, the order
/// swapped every run). No daemon is involved. One `adopt_cost` line per run on stdout.
func measureAdoptCost(runs: Int, batch: Int) throws(LoadError) {
    // Both ends of every connection are ours: 2 × batch descriptors at once.
    _ = PeerHolder.raiseDescriptorLimit(wanted: 2 * batch + 16)
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    defer { try? group.syncShutdownGracefully() }
    let loop = group.next()
    for run in 1...runs {
        var nio = (adopt: 0.0, close: 0.0), epoll = (adopt: 0.0, close: 0.0)
        for side in (run % 2 == 0 ? ["nio", "epoll"] : ["epoll", "nio"]) {
            let (clients, servers) = try loopbackPairs(batch)
            defer { clients.forEach { _ = close($0) } }
            if side == "nio" { nio = try nioCost(servers, loop: loop) } else { epoll = try epollCost(servers) }
        }
        let us = { (s: Double) in format(s * 1e6 / Double(batch), 2) }
        writeLine(1, "adopt_cost run=\(run) batch=\(batch) nio_adopt_us=\(us(nio.adopt)) nio_close_us=\(us(nio.close)) "
            + "epoll_adopt_us=\(us(epoll.adopt)) epoll_close_us=\(us(epoll.close))")
    }
}

/// CPU seconds of the calling thread.
private func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// `count` connected TCP pairs on 127.0.0.1: (client ends, accepted ends).
private func loopbackPairs(_ count: Int) throws(LoadError) -> ([CInt], [CInt]) {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard listener >= 0 else { throw .setup("socket: \(String(cString: strerror(errno)))") }
    defer { close(listener) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
            bind(listener, a, length) == 0 && listen(listener, Int32(count)) == 0 && getsockname(listener, a, &length) == 0
        }
    }
    guard bound else { throw .setup("listen on 127.0.0.1: \(String(cString: strerror(errno)))") }
    var clients: [CInt] = [], servers: [CInt] = []
    for _ in 0..<count {
        let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let ok = c >= 0 && withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(c, $0, length) == 0 }
        }
        let s = ok ? accept(listener, nil, nil) : -1
        guard s >= 0 else {
            let why = String(cString: strerror(errno))
            if c >= 0 { close(c) }
            (clients + servers).forEach { _ = close($0) }
            throw .setup("loopback connection \(clients.count + 1) of \(count): \(why)")
        }
        clients.append(c)
        servers.append(s)
    }
    return (clients, servers)
}

/// The handler a peer's pipeline holds (PeerChannelHandler's place).
private final class NoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
}

private func nioCost(_ fds: [CInt], loop: EventLoop) throws(LoadError) -> (adopt: Double, close: Double) {
    let watermark = ChannelOptions.Types.WriteBufferWaterMark(low: 64 * 1024, high: 256 * 1024)
    do {
        // Everything on the loop's thread, as in the peer manager: adopt all, then close all.
        return try loop.flatSubmit { () -> EventLoopFuture<(adopt: Double, close: Double)> in
            let start = threadCPUSeconds()
            let adopted = fds.map { fd in
                ClientBootstrap(group: loop)
                    .channelOption(ChannelOptions.writeBufferWaterMark, value: watermark)
                    .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NoHandler()) } }
                    .withConnectedSocket(fd)
            }
            return EventLoopFuture.whenAllSucceed(adopted, on: loop).flatMap { channels in
                let adoptSeconds = threadCPUSeconds() - start
                let closing = threadCPUSeconds()
                let closed = channels.map { $0.close() }
                return EventLoopFuture.andAllComplete(closed, on: loop).map { (adoptSeconds, threadCPUSeconds() - closing) }
            }
        }.wait()
    } catch {
        throw .setup("nio adoption: \(error)")
    }
}

private func epollCost(_ fds: [CInt]) throws(LoadError) -> (adopt: Double, close: Double) {
    let epfd = stockade_epoll_create()
    guard epfd >= 0 else { throw .setup("epoll_create1: \(String(cString: strerror(errno)))") }
    defer { close(epfd) }
    final class Connection {
        let fd: CInt
        var readPaused = false
        init(fd: CInt) { self.fd = fd }
    }
    var table: [CInt: Connection] = [:]
    let start = threadCPUSeconds()
    for fd in fds {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var one: CInt = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
        table[fd] = Connection(fd: fd)
        guard stockade_epoll_add_readable(epfd, fd) == 0 else { throw .setup("epoll_ctl: \(String(cString: strerror(errno)))") }
    }
    let adopt = threadCPUSeconds() - start
    let closing = threadCPUSeconds()
    for fd in fds {
        _ = stockade_epoll_remove(epfd, fd)
        table[fd] = nil
        close(fd)
    }
    return (adopt, threadCPUSeconds() - closing)
}
