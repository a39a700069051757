#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Log and output writes that can never take the process down. Foundation's FileHandle.write
/// traps on any error, so a closed reader (`stockade run | head -1`: EPIPE, with SIGPIPE
/// ignored) or a closed stderr (`2>&-`: EBADF) killed the daemon at its next log line; and a
/// blocking write to a reader that stopped reading (a full pipe) would freeze it until the
/// watchdog or the hung-child check killed it.
public enum StandardStreams {
    /// Gives each of fds 0, 1 and 2 that is closed /dev/null, as OpenSSH's sanitise_stdfd does:
    /// otherwise the next socket or file opened takes the number 2, and every log line would be
    /// written into it (a peer's connection, the control socket). Call first thing.
    public static func sanitise() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            let null = open("/dev/null", O_RDWR)
            // The lowest free number is `fd` itself; anything else means a number above 2 was
            // taken, which is not ours to keep.
            if null >= 0 && null != fd { close(null) }
        }
    }

    /// Lines dropped because the stream could not take them, said in the next line that goes
    /// out. (The peer manager logs from two threads.)
    private static let dropped = DroppedLines()

    /// Writes all of `text` to `fd`, or as much as the stream takes without waiting: a stream
    /// that is not writable now (a full pipe nobody reads) loses the line, and one that fails
    /// (EPIPE, EBADF, ENOSPC, EIO) loses the rest of it. A log line is never worth the process.
    public static func write(_ text: String, to fd: Int32) {
        guard writable(fd) else {
            dropped.add()
            return
        }
        let lost = dropped.take()
        var bytes = Array(((lost > 0 ? "(\(lost) log lines dropped: the output was not writable)\n" : "") + text).utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 {
                offset += n
                // A pipe with room takes PIPE_BUF bytes at once; past that, wait for nothing.
                if offset < bytes.count && !writable(fd) { return }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            return
        }
        bytes.removeAll()
    }

    /// One line to stderr (journald under systemd).
    public static func log(_ line: String) { write(line + "\n", to: STDERR_FILENO) }

    /// Whether a write to `fd` would not block now (always, for a regular file).
    private static func writable(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        while true {
            let rc = poll(&p, 1, 0)
            if rc < 0 && errno == EINTR { continue }
            // An error or hang-up is "writable": the write then fails at once and is dropped.
            return rc > 0
        }
    }
}

/// A counter shared by threads.
private final class DroppedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.withLock { n += 1 } }
    func take() -> Int { lock.withLock { defer { n = 0 }; return n } }
}
