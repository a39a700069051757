#if canImport(Glibc)
import Glibc
#endif
import CStockade
import PollLoop
import Sockets

/// A minimal HTTP/1.1 responder for Prometheus scrapes: `GET /metrics` answers the text
/// exposition, anything else 404, one request per connection. It lives in the supervisor's
/// loop, reads at most `maximumRequestLength` bytes per request and closes idle clients, so a
/// scraper cannot cost more than a few fds for a moment.
final class MetricsEndpoint {
    static let maximumRequestLength = 8 * 1024
    static let maximumClients = 8
    static let clientTimeout: Duration = .seconds(5)

    private let fd: Int32
    private let loop: PollLoop
    private let body: () -> [UInt8]
    private var clients: [Int32: [UInt8]] = [:]
    /// Which accept a client fd belongs to, so a late timeout never closes a reused fd number.
    private var generation: [Int32: UInt64] = [:]
    private var accepts: UInt64 = 0
    let address: SocketAddress

    init(address: SocketAddress, loop: PollLoop, body: @escaping () -> [UInt8]) throws {
        fd = try TCPSocket.listen(on: address, backlog: 16)
        self.address = SocketAddress.local(of: fd) ?? address
        self.loop = loop
        self.body = body
        try loop.register(fd: fd, interest: .readable) { [unowned self] _ in acceptClients() }
    }

    func shutdown() {
        loop.unregister(fd: fd)
        close(fd)
        for c in clients.keys { loop.unregister(fd: c); close(c) }
        clients.removeAll()
    }

    private func acceptClients() {
        while true {
            let c = stockade_accept_nonblocking(fd, nil, nil)
            guard c >= 0 else { return }
            guard clients.count < Self.maximumClients else { close(c); continue }
            clients[c] = []
            accepts += 1
            let mine = accepts
            generation[c] = mine
            try? loop.register(fd: c, interest: .readable) { [unowned self] _ in read(c) }
            loop.schedule(after: Self.clientTimeout) { [weak self] in
                if let self, self.generation[c] == mine { self.finish(c) }
            }
        }
    }

    private func read(_ c: Int32) {
        var chunk = [UInt8](repeating: 0, count: 2048)
        let n = chunk.withUnsafeMutableBytes { Glibc.read(c, $0.baseAddress, $0.count) }
        guard n > 0 else { finish(c); return }
        clients[c, default: []] += chunk[0..<n]
        let request = clients[c] ?? []
        if request.count > Self.maximumRequestLength { respond(c, status: "431 Request Header Fields Too Large", body: []); return }
        guard request.firstRange(of: [13, 10, 13, 10]) != nil else { return }
        let line = request.prefix { $0 != 13 }
        let isMetrics = line.starts(with: Array("GET /metrics ".utf8)) || line.starts(with: Array("GET / ".utf8))
        if isMetrics { respond(c, status: "200 OK", body: body()) } else { respond(c, status: "404 Not Found", body: Array("try /metrics\n".utf8)) }
    }

    private func respond(_ c: Int32, status: String, body: [UInt8]) {
        let head = "HTTP/1.1 \(status)\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        var out = Array(head.utf8) + body
        // A scrape response is small; a client that does not take it within one blocking-free
        // pass loses it rather than holding the supervisor.
        var offset = 0
        while offset < out.count {
            let n = out[offset...].withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            offset += n
        }
        out.removeAll()
        finish(c)
    }

    private func finish(_ c: Int32) {
        guard clients.removeValue(forKey: c) != nil else { return }
        generation[c] = nil
        loop.unregister(fd: c)
        close(c)
    }
}
