#if canImport(Glibc)
import Glibc
#endif
import Control
import CStockade
import Foundation
import PollLoop

/// The control socket: a Unix stream socket, mode 0600, whose callers must be this user or root
/// (checked with SO_PEERCRED, as OpenSSH's and systemd's control sockets do). One JSON request
/// per line; the supervisor answers what it knows and routes the rest to the peer manager.
final class ControlServer {
    /// Command connections open at once: enough for scripts, few enough that a runaway client
    /// cannot exhaust the supervisor's fds. When full, the connection idle longest gives way to
    /// the new one, so idle clients can never lock every command out.
    static let maximumConnections = 32
    /// `stockade events` watchers, counted apart: a stream never takes a command's slot.
    static let maximumSubscribers = 64
    /// A command connection silent this long with nothing in flight is closed. The CLI writes
    /// its request at once; a person typing into socat has half a minute per line.
    static let idleTimeout: Duration = .seconds(30)
    /// An `events` subscriber that stops reading loses its oldest lines past this (erigon's
    /// lesson: bound every queue toward a slow subscriber and drop oldest, never grow).
    static let maximumQueuedEventBytes = 256 * 1024

    final class Connection {
        let fd: Int32
        var input: [UInt8] = []
        var output: [UInt8] = []
        var outputOffset = 0
        var subscribed = false
        var closeAfterFlush = false
        var droppedEvents = 0
        /// A request is being answered: the next line waits for its reply to be written, so a
        /// client that pipelines requests and never reads holds one reply at most.
        var busy = false
        var lastActivity = ContinuousClock.now
        /// takeRequests is running for this connection (a synchronous reply must not nest it).
        var taking = false
        init(fd: Int32) { self.fd = fd }

        /// Idle: nothing asked, nothing owed, no stream.
        var isIdle: Bool { !subscribed && !busy && output.isEmpty }
    }

    let path: String
    private let listenFD: Int32
    private let loop: PollLoop
    private var connections: [Int32: Connection] = [:]
    /// Answers a request; calls `reply` exactly once (now or later).
    var handler: (ControlRequest, _ reply: @escaping (ControlReply) -> Void) -> Void = { _, reply in reply(.failure("not ready")) }
    /// When set, answers instead of `handler`, with the reply line ready made (newline
    /// included): a listing joined from the peer manager's pages without re-encoding them.
    var lineHandler: ((ControlRequest, _ reply: @escaping (_ line: [UInt8]) -> Void) -> Void)?
    /// Takes over a `connect` connection: its socket (now the caller's to close), and the bytes
    /// the client sent after its request line. The server has forgotten the connection.
    var connectHandler: (ControlRequest, _ fd: Int32, _ earlyData: [UInt8]) -> Void = { _, fd, _ in
        _ = ControlCoding.line(ControlReply.failure("not ready")).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        close(fd)
    }

    struct SetupError: Error, CustomStringConvertible { let description: String }
    /// The path is a socket that a running daemon answers.
    struct InUse: Error, CustomStringConvertible {
        let path: String
        var description: String { "control socket \(path) is served by a running daemon; refusing to take it over" }
    }
    /// The inode of the socket this server bound, so that shutdown never unlinks a socket that
    /// someone else put at the path meanwhile.
    private var boundInode: ino_t = 0

    /// How long an idle command connection lives here (`idleTimeout`; tests shorten it).
    private let idleLimit: Duration

    init(path: String, loop: PollLoop, idleTimeout: Duration = ControlServer.idleTimeout) throws {
        idleLimit = idleTimeout
        self.path = path
        self.loop = loop
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw SetupError(description: "control socket path too long (\(bytes.count) bytes): \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // A socket left by a crashed predecessor would make bind fail, so a dead one is
        // removed; one that still answers belongs to a live daemon and is never taken over.
        var st = stat()
        if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK {
            if Self.answers(&addr) { throw InUse(path: path) }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SetupError(description: "control socket: \(String(cString: strerror(errno)))") }
        // Mode 0600 from the start: no window in which another user could connect.
        let old = umask(0o177)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(old)
        guard rc == 0, listen(fd, 16) == 0 else {
            let e = errno
            close(fd)
            throw SetupError(description: "cannot bind control socket \(path): \(String(cString: strerror(e)))")
        }
        listenFD = fd
        if lstat(path, &st) == 0 { boundInode = st.st_ino }
        try loop.register(fd: fd, interest: .readable) { [unowned self] _ in acceptClients() }
        idleSweep = loop.schedule(after: .seconds(1), repeating: .seconds(1)) { [unowned self] in closeIdle() }
    }

    /// Whether something accepts connections at `addr` (a live daemon); refused or absent
    /// means a stale socket file.
    private static func answers(_ addr: inout sockaddr_un) -> Bool {
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { return false }
        defer { close(probe) }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        } == 0
    }

    private var idleSweep: PollLoopTimerID?

    func shutdown() {
        if let idleSweep { loop.cancel(idleSweep) }
        loop.unregister(fd: listenFD)
        close(listenFD)
        var st = stat()
        if lstat(path, &st) == 0 && st.st_ino == boundInode { unlink(path) }
        for c in connections.values { drop(c) }
    }

    /// Sends one event line to every subscriber.
    /// Whether anyone listens, so events are only encoded for subscribers.
    var hasSubscribers: Bool { connections.values.contains { $0.subscribed } }

    func publish(_ event: ControlEvent) {
        guard hasSubscribers else { return }
        let line = ControlCoding.line(event)
        for c in connections.values where c.subscribed {
            if c.output.count - c.outputOffset + line.count > Self.maximumQueuedEventBytes {
                // Drop the oldest whole lines until the new one fits.
                var pending = Array(c.output[c.outputOffset...])
                while pending.count + line.count > Self.maximumQueuedEventBytes, let nl = pending.firstIndex(of: 0x0a) {
                    pending.removeFirst(nl + 1)
                    c.droppedEvents += 1
                }
                c.output = pending
                c.outputOffset = 0
            }
            c.output += line
            flush(c)
        }
    }

    // MARK: connections

    private func acceptClients() {
        while true {
            let fd = stockade_accept_nonblocking(listenFD, nil, nil)
            if fd < 0 { return }
            guard Self.callerAllowed(fd) else {
                _ = ControlCoding.line(ControlReply.failure("permission denied")).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
                continue
            }
            let commands = connections.values.filter { !$0.subscribed }
            if commands.count >= Self.maximumConnections {
                // Make room by closing the connection idle longest; only if every one is busy
                // with a request is the newcomer told to come back.
                guard let oldest = commands.filter(\.isIdle).min(by: { $0.lastActivity < $1.lastActivity }) else {
                    _ = ControlCoding.line(ControlReply.failure("too many control connections busy; try again"))
                        .withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    close(fd)
                    continue
                }
                drop(oldest)
            }
            let c = Connection(fd: fd)
            connections[fd] = c
            try? loop.register(fd: fd, interest: .readable) { [unowned self, unowned c] events in ready(c, events) }
        }
    }

    private func closeIdle() {
        let now = ContinuousClock.now
        for c in connections.values where c.isIdle && now - c.lastActivity >= idleLimit { drop(c) }
    }

    /// SO_PEERCRED: only our own user or root may steer the daemon.
    static func callerAllowed(_ fd: Int32) -> Bool {
        var uid: UInt32 = 0
        guard stockade_peer_uid(fd, &uid) == 0 else { return false }
        return uid == 0 || uid == geteuid()
    }

    private func ready(_ c: Connection, _ events: PollEvents) {
        if events.contains(.writable) { flush(c) }
        guard connections[c.fd] != nil else { return }
        // Gone both ways: no reply can reach it (a half-close after the request is still fine).
        if events.contains(.hangup) || events.contains(.error) { drop(c); return }
        guard events.allowsRead, wantsInput(c) else { return }
        var chunk = [UInt8](repeating: 0, count: 4096)
        let n = chunk.withUnsafeMutableBytes { read(c.fd, $0.baseAddress, $0.count) }
        if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { drop(c); return }
        guard n > 0 else { return }
        c.lastActivity = .now
        // A subscriber's further input means nothing; it is read only to notice the close.
        if !c.subscribed { c.input += chunk[0..<n] }
        takeRequests(c)
    }

    /// Reads only while the connection has room: no request in flight, no reply unsent, and
    /// less than a request's length buffered. Otherwise the socket's own buffer fills and the
    /// client blocks: backpressure instead of supervisor memory.
    private func wantsInput(_ c: Connection) -> Bool {
        c.subscribed || (!c.busy && c.output.isEmpty && !c.closeAfterFlush && c.input.count <= ControlCoding.maximumRequestLength)
    }

    /// Handles the buffered lines one at a time, each only once the previous reply is written.
    private func takeRequests(_ c: Connection) {
        guard !c.taking else { return }
        c.taking = true
        defer { c.taking = false }
        while connections[c.fd] === c, !c.subscribed, !c.busy, c.output.isEmpty, let nl = c.input.firstIndex(of: 0x0a) {
            let line = Array(c.input[..<nl])
            c.input.removeFirst(nl + 1)
            handle(line, from: c)
        }
        guard connections[c.fd] === c else { return }
        if !c.busy && c.output.isEmpty && c.input.count > ControlCoding.maximumRequestLength {
            respond(c, .failure("request longer than \(ControlCoding.maximumRequestLength) bytes"))
            c.closeAfterFlush = true
            flush(c)
            return
        }
        updateInterest(c)
    }

    private func handle(_ line: [UInt8], from c: Connection) {
        let request: ControlRequest
        do { request = try ControlCoding.decode(ControlRequest.self, line) } catch {
            respond(c, .failure(Self.whyUnreadable(line)))
            return
        }
        if request.command == .connect {
            // The connection stops being a command connection: from here on it is a session's
            // byte stream, which the peer manager serves. (Requests are taken only once the
            // previous reply is written, so no earlier reply can end up inside the session.)
            let early = c.input
            connections[c.fd] = nil
            loop.unregister(fd: c.fd)
            connectHandler(request, c.fd, early)
            return
        }
        if request.command == .events {
            guard connections.values.filter(\.subscribed).count < Self.maximumSubscribers else {
                respond(c, .failure("too many events subscribers (\(Self.maximumSubscribers))"))
                return
            }
            c.subscribed = true
            c.input = []
            respond(c, .success(ControlResult(message: "subscribed")))
            return
        }
        c.busy = true
        let answered: ([UInt8]) -> Void = { [weak self, weak c] line in
            guard let self, let c, self.connections[c.fd] === c else { return }
            c.busy = false
            self.respond(c, line: line)
            self.takeRequests(c)
        }
        if let lineHandler {
            lineHandler(request, answered)
        } else {
            handler(request) { answered(ControlCoding.line($0)) }
        }
    }

    private func respond(_ c: Connection, _ reply: ControlReply) {
        respond(c, line: ControlCoding.line(reply))
    }

    private func respond(_ c: Connection, line: [UInt8]) {
        c.output += line
        flush(c)
    }

    private func flush(_ c: Connection) {
        while c.outputOffset < c.output.count {
            let n = c.output[c.outputOffset...].withUnsafeBytes { send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { break }
                drop(c)
                return
            }
            c.outputOffset += n
        }
        if c.outputOffset == c.output.count {
            c.output = []
            c.outputOffset = 0
            c.lastActivity = .now
            if c.closeAfterFlush { drop(c); return }
            // The reply is out: the next pipelined request may go (unless this flush is that
            // loop's own, which then carries on by itself).
            if !c.subscribed && !c.busy && !c.taking && c.input.contains(0x0a) { takeRequests(c); return }
        }
        updateInterest(c)
    }

    private func updateInterest(_ c: Connection) {
        guard connections[c.fd] === c else { return }
        var interest: PollEvents = wantsInput(c) ? .readable : []
        if !c.output.isEmpty { interest.insert(.writable) }
        loop.setInterest(interest, for: c.fd)
    }

    private func drop(_ c: Connection) {
        guard connections.removeValue(forKey: c.fd) != nil else { return }
        loop.unregister(fd: c.fd)
        close(c.fd)
    }

    /// What is wrong with a request line, in the operator's words: an unknown command gets the
    /// list of commands, rather than the JSON decoder's internal text.
    static func whyUnreadable(_ line: [UInt8]) -> String {
        let commands = ControlRequest.Command.allCases.map(\.rawValue).joined(separator: ", ")
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
            return "not a JSON object: one request per line, e.g. {\"command\":\"status\"}"
        }
        guard let command = object["command"] as? String else { return "no \"command\" (one of: \(commands))" }
        if ControlRequest.Command(rawValue: command) == nil { return "unknown command \(command) (one of: \(commands))" }
        return "a field of the \(command) request has the wrong type"
    }
}
