#if canImport(Glibc)
import Glibc
#endif
import CSeccomp

/// A seccomp filter that ends a worker's access to the filesystem and to exec once it holds its
/// key: every call that opens, creates, links or executes a path fails with EACCES (OpenSSH's
/// sandbox answers open the same way, so library code that probes a file degrades instead of
/// dying). Everything else stays allowed: the worker still needs sockets, poll, timers and the
/// Swift runtime's memory and thread calls. Needs PR_SET_NO_NEW_PRIVS first.
enum FileAccessFilter {
    /// The syscalls that take a path to open, create or execute.
    static let deniedSyscalls = [
        "open", "openat", "openat2", "creat", "open_by_handle_at", "name_to_handle_at",
        "execve", "execveat", "mkdir", "mkdirat", "mknod", "mknodat", "link", "linkat",
        "symlink", "symlinkat", "rename", "renameat", "renameat2", "unlink", "unlinkat",
        "truncate", "chmod", "fchmodat", "chown", "lchown", "fchownat", "chroot", "mount", "umount2",
    ]

    /// Installs the filter; returns nil on success or why it could not.
    static func install() -> String? {
        guard let ctx = seccomp_init(0x7fff_0000) /* SCMP_ACT_ALLOW */ else { return "seccomp_init failed" }
        defer { seccomp_release(ctx) }
        let eacces = UInt32(0x0005_0000) | UInt32(EACCES)   // SCMP_ACT_ERRNO(EACCES)
        for name in deniedSyscalls {
            let nr = seccomp_syscall_resolve_name(name)
            guard nr >= 0 else { continue }   // not on this architecture
            if seccomp_rule_add_array(ctx, eacces, nr, 0, nil) != 0 { return "seccomp rule for \(name) failed" }
        }
        let rc = seccomp_load(ctx)
        return rc == 0 ? nil : "seccomp_load failed: \(String(cString: strerror(-rc)))"
    }
}
