#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The client end of the control socket, for the `stockade` commands.
public final class ControlClient {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Where the CLI looks when no --control-socket is given, in order: $STOCKADE_CONTROL_SOCKET,
    /// the state directory `ops/run-node.sh` uses (relative to the current directory), the
    /// systemd unit's RuntimeDirectory, then the default state directory's.
    public static let defaultPaths = ["./.stockade-state/control.sock", "/run/stockade/control.sock", "/var/lib/stockade/control.sock"]

    /// The paths tried for `path` (--control-socket) and `environment`.
    public static func searchPaths(_ path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        if let path { return [path] }
        if let env = environment["STOCKADE_CONTROL_SOCKET"], !env.isEmpty { return [env] }
        return defaultPaths
    }

    private let fd: Int32
    private var buffer: [UInt8] = []

    public init(path: String?) throws {
        var tried: [String] = []
        for p in Self.searchPaths(path) {
            let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard s >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(p.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
                close(s)
                tried.append("\(p): path longer than the 107 bytes a Unix socket path may have")
                continue
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            let e = errno
            if rc == 0 {
                fd = s
                return
            }
            close(s)
            tried.append("\(p): \(Self.explain(path: p, errno: e))")
        }
        throw Failure(description: "cannot reach the daemon's control socket; tried:\n  " + tried.joined(separator: "\n  ")
                      + "\n(start one with ./ops/run-node.sh or `stockade run`; name its socket with --control-socket PATH or STOCKADE_CONTROL_SOCKET)")
    }

    /// What a failed connect to `path` means to an operator.
    static func explain(path: String, errno e: Int32) -> String {
        // connect(2) to a regular file says ECONNREFUSED: look at what is there first.
        var st = stat()
        if stat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFSOCK { return "not a socket" }
        switch e {
        case ENOENT: return "no such file (no daemon has used this path)"
        case ECONNREFUSED: return "nothing listening (a socket left by a daemon that is not running)"
        case EACCES, EPERM: return "permission denied (the socket is mode 0600: run as the daemon's user, or with sudo)"
        case ENOTSOCK: return "not a socket"
        case ENOTDIR: return "a part of the path is not a directory"
        default:
            return String(cString: strerror(e))
        }
    }

    deinit { close(fd) }

    /// The connection's socket (`stockade connect` relays the session over it after the reply).
    public var fileDescriptor: Int32 { fd }

    /// Bytes read past the last line returned: after a connect's status line, the session's first bytes.
    public func takeBuffered() -> [UInt8] {
        defer { buffer = [] }
        return buffer
    }

    /// Sends one request and reads its reply.
    public func call(_ request: ControlRequest, timeoutSeconds: Int32 = 10) throws -> ControlReply {
        do { try send(request) } catch {
            // A daemon that turns a connection away says why, then closes: our write then fails
            // (EPIPE), but its line is still there to read, and is the truth to report.
            if let line = try? readLine(timeoutSeconds: 1), let reply = try? ControlCoding.decode(ControlReply.self, line) {
                return reply
            }
            throw error
        }
        guard let line = try readLine(timeoutSeconds: timeoutSeconds) else {
            throw Failure(description: "the daemon closed the control connection without a reply")
        }
        do { return try ControlCoding.decode(ControlReply.self, line) } catch {
            throw Failure(description: "unreadable reply from the daemon: \(error)")
        }
    }

    public func send(_ request: ControlRequest) throws {
        let bytes = ControlCoding.line(request)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "control socket write: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// The next line (without its newline), nil at end of stream; -1 waits forever.
    public func readLine(timeoutSeconds: Int32) throws -> [UInt8]? {
        while true {
            if let nl = buffer.firstIndex(of: 0x0a) {
                let line = Array(buffer[..<nl])
                buffer.removeFirst(nl + 1)
                return line
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let rc = poll(&p, 1, timeoutSeconds < 0 ? -1 : timeoutSeconds * 1000)
            if rc < 0 && errno == EINTR { continue }
            if rc == 0 { throw Failure(description: "no reply from the daemon within \(timeoutSeconds) s") }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "control socket read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return buffer.isEmpty ? nil : { defer { buffer = [] }; return buffer }() }
            buffer += chunk[0..<n]
        }
    }
}
