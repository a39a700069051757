#if canImport(Glibc)
import Glibc
#endif
import Sockets

/// `idle`: opens `sessions` sessions (each proven end to end by its first byte), says so on
/// stdout, holds them `hold` seconds so the caller can read the tunnels' RSS, then closes them.
enum Idle {
    static let maxFailures = 10

    static func run(route: Route, sessions: Int, holdSeconds: Int, timeoutMilliseconds: Int) -> Line {
        let limit = raiseFileLimit(to: sessions + 64)
        var open: [Stream] = [], failures: [String] = []
        let start = monotonicNanos()
        while open.count < sessions && failures.count < maxFailures {
            do {
                let s = try route.open(timeoutMilliseconds: timeoutMilliseconds)
                try s.write([Command.firstByte.rawValue])
                _ = try s.readExactly(1)
                open.append(s)
            } catch {
                failures.append("\(error)")
            }
        }
        let openSeconds = secondsSince(start)
        for e in Set(failures) { report(note: "idle: \(e)") }
        let line = Line("idle", [
            ("route", "\(route)"), ("sessions", "\(sessions)"), ("opened", "\(open.count)"),
            ("failed", "\(failures.count)"), ("open_seconds", fmt(openSeconds, 2)), ("nofile", "\(limit)"),
            ("hold_seconds", "\(holdSeconds)"),
        ])
        line.emit()   // the caller reads RSS once this line is out
        sleep(UInt32(holdSeconds))
        for s in open { s.close() }
        return Line("idle-closed", [("route", "\(route)"), ("closed", "\(open.count)")])
    }

    /// Raises RLIMIT_NOFILE's soft limit to `wanted` (and the hard one, which needs root, when it
    /// is lower); returns the soft limit in force and says so when it stays below `wanted`.
    static func raiseFileLimit(to wanted: Int) -> Int {
        var r = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r)
        let want = rlim_t(wanted)
        if r.rlim_cur < want {
            var next = r
            next.rlim_cur = want
            if next.rlim_max < want { next.rlim_max = want }
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &next) != 0 {
                next.rlim_cur = min(want, r.rlim_max)
                next.rlim_max = r.rlim_max
                _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &next)
            }
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r)
        }
        if r.rlim_cur < want {
            report(note: "idle: RLIMIT_NOFILE stays at \(r.rlim_cur) (wanted \(wanted)): fewer sessions will open")
        }
        return Int(r.rlim_cur)
    }

    /// `ports N`: N distinct free TCP ports on 127.0.0.1 (bound together, then released).
    static func freePorts(_ n: Int) throws -> [UInt16] {
        var fds: [Int32] = []
        defer { for fd in fds { close(fd) } }
        return try (0..<n).map { _ in
            guard let any = SocketAddress(ip: "127.0.0.1", port: 0) else { throw BenchError("address") }
            let fd: Int32
            do { fd = try TCPSocket.listen(on: any, backlog: 1) } catch { throw BenchError("\(error)") }
            fds.append(fd)
            guard let port = SocketAddress.local(of: fd)?.port else { throw BenchError("getsockname") }
            return port
        }
    }
}
