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

    /// Installs the filter; returns nil on success or why it could not. With `readOnly`, files
    /// may still be opened for reading (the peer manager's resolver reads /etc/hosts,
    /// /etc/resolv.conf and nsswitch.conf, NIO reads /proc and /sys), but never for writing or
    /// creating, and nothing is executed, linked, renamed or removed.
    static func install(readOnly: Bool = false) -> String? {
        guard let ctx = seccomp_init(0x7fff_0000) /* SCMP_ACT_ALLOW */ else { return "seccomp_init failed" }
        defer { seccomp_release(ctx) }
        let eacces = UInt32(0x0005_0000) | UInt32(EACCES)   // SCMP_ACT_ERRNO(EACCES)
        let reads: Set<String> = readOnly ? ["open", "openat"] : []
        for name in deniedSyscalls where !reads.contains(name) {
            let nr = seccomp_syscall_resolve_name(name)
            guard nr >= 0 else { continue }   // not on this architecture
            if seccomp_rule_add_array(ctx, eacces, nr, 0, nil) != 0 { return "seccomp rule for \(name) failed" }
        }
        // open(path, flags) and openat(dir, path, flags): refused when any writing flag is set,
        // one rule per flag (seccomp compares masked bits for equality).
        for (name, flagsArgument) in [("open", UInt32(1)), ("openat", UInt32(2))] where reads.contains(name) {
            let nr = seccomp_syscall_resolve_name(name)
            guard nr >= 0 else { continue }
            for flag in [O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND] {
                var compare = scmp_arg_cmp(arg: flagsArgument, op: SCMP_CMP_MASKED_EQ, datum_a: UInt64(flag), datum_b: UInt64(flag))
                if seccomp_rule_add_array(ctx, eacces, nr, 1, &compare) != 0 { return "seccomp rule for \(name) failed" }
            }
        }
        let rc = seccomp_load(ctx)
        return rc == 0 ? nil : "seccomp_load failed: \(String(cString: strerror(-rc)))"
    }
}
