#if canImport(Glibc)
import Glibc
#endif
import CStockade

/// A worker's sandbox: it holds the node key and parses hostile bytes, so it runs with as
/// little as possible (ARCHITECTURE.md "Security boundaries").
enum Privileges {
    /// The unprivileged identity a worker started as root becomes (Debian's `nobody`).
    static let unprivilegedID: UInt32 = 65534

    /// Drops root for `nobody` when running as root, then sets PR_SET_NO_NEW_PRIVS so nothing
    /// the process executes can gain privileges. Returns what it did, for the log.
    static func drop() -> String {
        var done: [String] = []
        if getuid() == 0 || geteuid() == 0 {
            // Supplementary groups first, then gid, then uid: after setuid we could not.
            if setgroups(0, nil) == 0, setgid(unprivilegedID) == 0, setuid(unprivilegedID) == 0 {
                done.append("dropped root for uid/gid \(unprivilegedID)")
            } else {
                done.append("could not drop root: \(String(cString: strerror(errno)))")
            }
        }
        if stockade_set_no_new_privs() == 0 { done.append("no_new_privs set") }
        return done.joined(separator: ", ")
    }
}
