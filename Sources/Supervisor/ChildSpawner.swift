#if canImport(Glibc)
import Glibc
#endif
import ChildRuntime
import CStockade
import IPC

/// Spawns a child with posix_spawn, re-executing our own binary through /proc/self/exe.
enum ChildSpawner {
    enum SpawnError: Error, CustomStringConvertible {
        case failed(errno: Int32)
        var description: String {
            switch self { case .failed(let e): return "posix_spawn failed: \(String(cString: strerror(e)))" }
        }
    }

    /// Variables a child must not inherit: systemd's notify and activation state belongs to the
    /// supervisor alone (NotifyAccess=main).
    static let strippedEnvironment: Set<String> = [
        "NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID",
    ]

    /// Starts `exe child <role> --index <index>` with `fds[i]` installed at descriptor 3 + i and
    /// nothing else open above them (closed in the child before exec). Returns the pid.
    static func spawn(role: IPCMessage.Role, index: Int, fds: [Int32], extraArguments: [String] = []) throws(SpawnError) -> pid_t {
        // Move every source above the target range first, so installing fd 3 cannot clobber a
        // source that happens to be fd 4 (and dup2(x, x) never leaves close-on-exec set).
        var staged: [Int32] = []
        defer { staged.forEach { close($0) } }
        for fd in fds {
            let high = fcntl(fd, F_DUPFD_CLOEXEC, 64)
            guard high >= 0 else { throw .failed(errno: errno) }
            staged.append(high)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (i, fd) in staged.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, fd, ChildDescriptors.control + Int32(i))
        }
        // And nothing above them, whether close-on-exec or not: a library's descriptor without
        // the flag (swift-nio's metrics sockets and epoll fd were found in restarted children
        // by the chaos suite) must never reach a child, let alone a sandboxed one.
        guard stockade_spawn_add_closefrom(&actions, ChildDescriptors.control + Int32(staged.count)) == 0 else { throw .failed(errno: errno) }

        // The supervisor blocks the signals it reads through its loop; a blocked mask survives
        // exec, so give the child an empty mask and default dispositions.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGHUP, SIGINT, SIGCHLD, SIGPIPE, SIGUSR1, SIGUSR2] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let args = [OwnExecutable.displayPath, "child", role.argument, "--index", String(index)] + extraArguments
        var env = environmentForChild()
        env.append("\(ChildDescriptors.parentPIDVariable)=\(getpid())")

        var pid: pid_t = 0
        let rc = withCStrings(args) { argv in
            withCStrings(env) { envp in
                posix_spawn(&pid, OwnExecutable.path, &actions, &attr, argv, envp)
            }
        }
        guard rc == 0 else { throw .failed(errno: rc) }
        return pid
    }

    static func environmentForChild() -> [String] {
        var out: [String] = []
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            let name = s.split(separator: "=", maxSplits: 1).first.map(String.init) ?? s
            if !strippedEnvironment.contains(name) && name != ChildDescriptors.parentPIDVariable { out.append(s) }
            p += 1
        }
        return out
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        var ptrs: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        ptrs.append(nil)
        defer { ptrs.forEach { free($0) } }
        return body(ptrs)
    }
}

/// Our own binary, for re-execution. Executing /proc/self/exe runs the very file the supervisor
/// runs, even if an upgrade replaced the path on disk meanwhile: children never run a newer
/// build than their supervisor. argv[0] keeps the real path so `ps` reads well.
enum OwnExecutable {
    static let path = "/proc/self/exe"
    static let displayPath: String = {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        return n > 0 ? String(cString: buf) : "stockade"
    }()
}
