#if canImport(Glibc)
import Glibc
#endif
import CStockade

/// What a child gives up once it has what it needs (ARCHITECTURE.md "Security boundaries"):
/// root (for `nobody`, when started as root), the ability to gain privileges
/// (PR_SET_NO_NEW_PRIVS), and, for the roles that need no files, filesystem access and exec.
public enum Sandbox {
    /// The unprivileged identity a child started as root becomes (Debian's `nobody`).
    static let unprivilegedID: UInt32 = 65534

    /// Enters the sandbox; returns what was done, for the log.
    /// `readOnlyFiles` (when not `denyFileAccess`): files may be read, never written or executed.
    public static func enter(denyFileAccess: Bool, readOnlyFiles: Bool = false) -> String {
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
        if denyFileAccess {
            if let problem = FileAccessFilter.install() { done.append("no file-access filter: \(problem)") }
            else { done.append("file access and exec denied (seccomp)") }
        } else if readOnlyFiles {
            if let problem = FileAccessFilter.install(readOnly: true) { done.append("no file-access filter: \(problem)") }
            else { done.append("file writes and exec denied (seccomp)") }
        }
        return done.joined(separator: ", ")
    }
}
