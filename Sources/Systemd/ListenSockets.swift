import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// Listening sockets handed over by systemd socket activation (sd_listen_fds(3)).
public struct ListenSockets: Sendable {
    public struct Socket: Sendable, Equatable {
        public let fd: Int32
        public let name: String
    }

    /// The inherited sockets, in order from fd 3 (SD_LISTEN_FDS_START), each with its
    /// LISTEN_FDNAMES name ("unknown" when systemd gave none). Clears the LISTEN_* variables
    /// so that children never believe the sockets are theirs, and marks the fds close-on-exec.
    public static func takeFromSystemd() -> [Socket] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        let n = sd_listen_fds_with_names(1, &names)
        guard n > 0 else { return [] }
        var out: [Socket] = []
        for i in 0..<Int(n) {
            let fd = Int32(SD_LISTEN_FDS_START) + Int32(i)
            var name = "unknown"
            if let names, let p = names[i] {
                name = String(cString: p)
                free(p)
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            out.append(Socket(fd: fd, name: name))
        }
        free(names)
        return out
    }

    /// Whether `fd` is a listening TCP socket, as systemd's sd_is_socket_inet checks it.
    public static func isListeningTCP(_ fd: Int32) -> Bool {
        sd_is_socket_inet(fd, 0, Int32(SOCK_STREAM.rawValue), 1, 0) > 0
    }
}
