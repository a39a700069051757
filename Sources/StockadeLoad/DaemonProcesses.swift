#if canImport(Glibc)
import Glibc
#endif

/// The daemon's processes, found the way an operator would: the supervisor's pid, then its
/// direct children in /proc and their role from the command line the supervisor gave them
/// (`stockade child <role> --index <i>`, see Supervisor/ChildSpawner.swift).
struct DaemonProcesses: Sendable, Equatable {
    /// Role name ("supervisor", "acceptor", "peer-manager", "worker[0]", …) to pid.
    let pids: [String: Int32]

    /// /proc files read here are a few hundred bytes; anything longer is cut, never grown.
    static let procFileLimit = 4096

    init(supervisor: Int32) {
        var found: [String: Int32] = ["supervisor": supervisor]
        for (pid, arguments) in Self.children(of: supervisor) {
            guard let at = arguments.firstIndex(of: "child"), at + 1 < arguments.count else { continue }
            let role = arguments[at + 1]
            if role == "worker", let i = arguments.firstIndex(of: "--index"), i + 1 < arguments.count {
                found["worker[\(arguments[i + 1])]"] = pid
            } else {
                found[role] = pid
            }
        }
        pids = found
    }

    var workers: [Int32] { pids.filter { $0.key.hasPrefix("worker[") }.map(\.value) }

    /// Direct children of `parent` with their argument vectors.
    static func children(of parent: Int32) -> [(Int32, [String])] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var out: [(Int32, [String])] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = Int32(name), let stat = readProcFile("/proc/\(pid)/stat"),
                  let fields = statFields(stat), fields.count > 1, Int32(fields[1]) == parent else { continue }
            let cmdline = readProcFile("/proc/\(pid)/cmdline") ?? []
            let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            out.append((pid, arguments))
        }
        return out
    }

    /// The fields of /proc/PID/stat after the parenthesised command name (which may itself hold
    /// spaces and parentheses): state, ppid, …; utime and stime are fields 14 and 15 of the
    /// whole line, so indices 11 and 12 here (proc(5)).
    static func statFields(_ stat: [UInt8]) -> [Substring]? {
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let rest = String(decoding: stat[(close + 1)...], as: UTF8.self)
        return rest.split(separator: " ")
    }

    static func readProcFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: procFileLimit)
        var used = 0
        while used < procFileLimit {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + used, procFileLimit - used) }
            if n <= 0 { break }
            used += n
        }
        return Array(buffer[..<used])
    }
}

/// CPU time (user + system) that a process has used, all its threads included.
enum ProcessCPU {
    /// Seconds of CPU used by `pid` so far, or nil once it is gone. Read from the process's
    /// CPU-time clock (clock_getcpuclockid: nanosecond resolution, the same sum the kernel
    /// reports as utime + stime), falling back to /proc/PID/stat's utime + stime in clock ticks.
    static func seconds(_ pid: Int32) -> Double? {
        var clock = clockid_t()
        if clock_getcpuclockid(pid, &clock) == 0 {
            var ts = timespec()
            if clock_gettime(clock, &ts) == 0 { return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9 }
        }
        return statSeconds(pid)
    }

    /// utime + stime from /proc/PID/stat (clock-tick resolution: 10 ms at USER_HZ 100).
    static func statSeconds(_ pid: Int32) -> Double? {
        guard let stat = DaemonProcesses.readProcFile("/proc/\(pid)/stat"),
              let fields = DaemonProcesses.statFields(stat), fields.count > 12,
              let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        return (utime + stime) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// This process's own CPU time (the load generator's cost, for context).
    static func selfSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// CPU seconds of every daemon process (and of this client) at one instant.
struct CPUSnapshot: Sendable {
    let processes: DaemonProcesses
    let seconds: [String: Double]
    let client: Double
    let wall: ContinuousClock.Instant

    /// Rescans the supervisor's children each time, so that a restarted role shows as one.
    static func take(supervisor: Int32) -> CPUSnapshot {
        let processes = DaemonProcesses(supervisor: supervisor)
        var seconds: [String: Double] = [:]
        for (role, pid) in processes.pids { seconds[role] = ProcessCPU.seconds(pid) }
        return CPUSnapshot(processes: processes, seconds: seconds, client: ProcessCPU.selfSeconds(),
                           wall: ContinuousClock.now)
    }
}

/// What each process spent between two snapshots.
struct CPUDelta: Sendable {
    let wallSeconds: Double
    /// Role name to CPU seconds spent in the interval.
    let byRole: [String: Double]
    let client: Double
    /// A role's pid changed or vanished in the interval (a restart): its figure is meaningless.
    let restarted: [String]

    init(from a: CPUSnapshot, to b: CPUSnapshot) {
        wallSeconds = Duration.seconds(b.wall - a.wall)
        var byRole: [String: Double] = [:]
        var restarted: [String] = []
        for (role, pid) in a.processes.pids {
            guard b.processes.pids[role] == pid, let start = a.seconds[role], let end = b.seconds[role] else {
                restarted.append(role)
                continue
            }
            byRole[role] = end - start
        }
        self.byRole = byRole
        self.restarted = restarted.sorted()
        client = b.client - a.client
    }

    var workers: Double { byRole.filter { $0.key.hasPrefix("worker[") }.values.reduce(0, +) }
}

extension Duration {
    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
