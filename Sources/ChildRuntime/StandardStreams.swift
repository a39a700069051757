#if canImport(Glibc)
import Glibc
#endif

/// Log and output writes that can never take the process down. Foundation's FileHandle.write
/// traps on any error, so a closed reader (`stockade run | head -1`: EPIPE, with SIGPIPE
/// ignored) or a closed stderr (`2>&-`: EBADF) killed the daemon at its next log line.
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

    /// Writes all of `text` to `fd`, or as much as the stream takes: on any error (EPIPE,
    /// EBADF, ENOSPC, EIO) the rest of the line is dropped. A log line is never worth the process.
    public static func write(_ text: String, to fd: Int32) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 { offset += n; continue }
            if n < 0 && errno == EINTR { continue }
            return
        }
        bytes.removeAll()
    }

    /// One line to stderr (journald under systemd).
    public static func log(_ line: String) { write(line + "\n", to: STDERR_FILENO) }
}
