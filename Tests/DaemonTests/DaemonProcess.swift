import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A real `stockade` process started by a test: its stdout and stderr are collected by
/// background threads so a test can wait for a line, and it is killed (with its children) when
/// the test is done. Every wait is bounded.
final class DaemonProcess: @unchecked Sendable {
    let process = Process()
    let stateDir: URL
    /// Collected output; a class of its own so the reader threads never outlive what they write to.
    private let output = OutputBuffer()

    /// The built binary next to the test bundle (STOCKADE_BIN overrides).
    static var binary: String {
        if let env = ProcessInfo.processInfo.environment["STOCKADE_BIN"] { return env }
        let candidates = [Bundle.main.bundleURL, Bundle(for: DaemonProcess.self).bundleURL.deletingLastPathComponent()]
        for dir in candidates {
            let path = dir.appendingPathComponent("stockade").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return candidates[0].appendingPathComponent("stockade").path
    }

    /// systemd's own socket-activation tool (Debian's systemd package).
    static let socketActivateTool = "/usr/bin/systemd-socket-activate"

    /// Starts `stockade <arguments>`; `run` gets a fresh state directory and a 127.0.0.1:0
    /// listener unless the arguments say otherwise, and `config` (TOML) is written to the state
    /// directory and passed with --config.
    convenience init(_ arguments: [String], config: String? = nil, environment: [String: String] = [:]) throws {
        try self.init(executable: Self.binary, environment: environment) { stateDir in
            var args = arguments
            if args.first == "run" {
                if !args.contains("--state-dir") { args += ["--state-dir", stateDir.path] }
                if !args.contains("--listen") { args += ["--listen", "127.0.0.1:0"] }
                // The tests read per-connection lines (refusals, failed handshakes): debug.
                if !args.contains("--log-level") { args += ["--log-level", "debug"] }
                if let config {
                    let path = stateDir.appendingPathComponent("stockade.toml")
                    try Data(config.utf8).write(to: path)
                    args += ["--config", path.path]
                }
            }
            return args
        }
    }

    /// `stockade run --state-dir <fresh dir>` started by systemd-socket-activate listening on
    /// `listen` (IP:PORT) with the socket named devp2p. The tool execs the daemon on the first
    /// connection attempt and passes only the variables named in `setenv` (its -E option) plus
    /// its own LISTEN_* ones.
    /// `entries` are further sockets (FileDescriptorName, IP:PORT), e.g. ("socks5", …), and
    /// `config` (TOML) is written to the state directory and passed with --config.
    static func socketActivated(listen: String, entries: [(name: String, listen: String)] = [], config: String? = nil,
                                setenv: [String: String] = [:]) throws -> DaemonProcess {
        try DaemonProcess(executable: socketActivateTool) { stateDir in
            var args = ["-l", listen] + entries.flatMap { ["-l", $0.listen] }
            args.append("--fdname=" + (["devp2p"] + entries.map(\.name)).joined(separator: ":"))
            for (k, v) in setenv.sorted(by: { $0.key < $1.key }) { args += ["-E", "\(k)=\(v)"] }
            args += [binary, "run", "--state-dir", stateDir.path]
            if let config {
                let path = stateDir.appendingPathComponent("stockade.toml")
                try Data(config.utf8).write(to: path)
                args += ["--config", path.path]
            }
            return args
        }
    }

    init(executable: String, environment: [String: String] = [:], arguments: (URL) throws -> [String]) throws {
        stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: stateDir, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = try arguments(stateDir)
        var env = ProcessInfo.processInfo.environment
        for k in ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"] { env[k] = nil }
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        Self.collect(out.fileHandleForReading) { [output] s in output.append(stdout: s) }
        Self.collect(err.fileHandleForReading) { [output] s in output.append(stderr: s) }
    }

    private static func collect(_ handle: FileHandle, _ append: @escaping @Sendable (String) -> Void) {
        Thread.detachNewThread {
            while true {
                let data = handle.availableData
                if data.isEmpty { return }
                append(String(decoding: data, as: UTF8.self))
            }
        }
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { output.stdout }
    var stderr: String { output.stderr }

    /// Waits for `predicate` over (stdout, stderr) to hold, polling; false after `timeout`.
    @discardableResult
    func waitFor(_ timeout: TimeInterval = 15, _ predicate: (String, String) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if predicate(stdout, stderr) { return true }
            usleep(20_000)
        }
        return predicate(stdout, stderr)
    }

    /// Waits until stderr contains `needle` at least `times` times.
    @discardableResult
    func waitForLog(_ needle: String, times: Int = 1, timeout: TimeInterval = 15) -> Bool {
        waitFor(timeout) { _, err in err.components(separatedBy: needle).count - 1 >= times }
    }

    /// The enode URL the daemon printed at start.
    func enode(timeout: TimeInterval = 15) throws -> String {
        var url: String?
        waitFor(timeout) { out, _ in
            url = out.split(separator: "\n").first { $0.hasPrefix("enode://") }.map(String.init)
            return url != nil
        }
        guard let url else { throw DaemonTestError("no enode URL printed; stderr:\n\(stderr)") }
        return url
    }

    /// Waits until the supervisor logged "ready".
    func waitReady(timeout: TimeInterval = 20) throws {
        guard waitFor(timeout, { _, err in err.contains("ready:") }) else {
            throw DaemonTestError("daemon did not become ready; stderr:\n\(stderr)")
        }
    }

    func count(_ needle: String) -> Int { stderr.components(separatedBy: needle).count - 1 }

    /// Direct children (the roles) with their command lines.
    func children() -> [(pid: Int32, role: String)] {
        ProcessTable.children(of: pid)
    }

    func child(_ role: String) -> Int32? { children().first { $0.role.contains(role) }?.pid }

    /// The pid of worker `index`.
    func worker(_ index: Int) -> Int32? { rolePids()["worker[\(index)]"] }

    /// Pids by the supervisor's names for its children ("acceptor", "peer-manager",
    /// "worker[0]", …), for comparing before and after an event. A child between fork and exec
    /// still shows the supervisor's command line and is not listed.
    func rolePids() -> [String: Int32] {
        var out: [String: Int32] = [:]
        for c in children() {
            let words = c.role.split(separator: " ").map(String.init)
            guard let at = words.firstIndex(of: "child"), at + 1 < words.count else { continue }
            let role = words[at + 1]
            if role == "worker", let i = words.firstIndex(of: "--index"), i + 1 < words.count {
                out["worker[\(words[i + 1])]"] = c.pid
            } else {
                out[role] = c.pid
            }
        }
        return out
    }

    /// Waits until `count` role children run, none of them a zombie, and returns their pids.
    @discardableResult
    func waitForChildren(_ count: Int, timeout: TimeInterval = 15, where predicate: ([String: Int32]) -> Bool = { _ in true }) -> [String: Int32]? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            let pids = rolePids()
            if pids.count == count && pids.values.allSatisfy({ ProcessTable.state($0) != "Z" }) && predicate(pids) { return pids }
            usleep(20_000)
        }
        return nil
    }

    func signal(_ sig: Int32) { kill(pid, sig) }

    /// Prints this process's log at `test`'s teardown if the test failed: a failing end-to-end
    /// test is read from the daemon's own account of what happened.
    func logOnFailure(of test: XCTestCase, label: String = "stockade") {
        test.addTeardownBlock { [self, unowned test] in
            // hasSucceeded stays false until the run stops, so count the failures so far.
            guard let run = test.testRun, run.totalFailureCount + run.unexpectedExceptionCount > 0 else { return }
            print("----- \(label) (pid \(pid)) stdout -----\n\(stdout.suffix(4_000))")
            print("----- \(label) (pid \(pid)) stderr -----\n\(stderr.suffix(40_000))")
        }
    }

    /// Waits for exit; returns the status or nil on timeout.
    func waitExit(timeout: TimeInterval = 15) -> Int32? {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    func stop() {
        let kids = children().map(\.pid)
        if process.isRunning {
            kill(pid, SIGTERM)
            if waitExit(timeout: 10) == nil { kill(pid, SIGKILL); _ = waitExit(timeout: 5) }
        }
        for k in kids { kill(k, SIGKILL) }
        try? FileManager.default.removeItem(at: stateDir)
    }

    deinit { stop() }
}

/// The text a process wrote so far, appended by reader threads and read by the test.
private final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var out = ""
    private var err = ""

    func append(stdout s: String) { lock.withLock { out += s } }
    func append(stderr s: String) { lock.withLock { err += s } }
    var stdout: String { lock.withLock { out } }
    var stderr: String { lock.withLock { err } }
}

struct DaemonTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Reads /proc for the process tree and descriptor counts.
enum ProcessTable {
    static func children(of parent: Int32) -> [(pid: Int32, role: String)] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var out: [(Int32, String)] = []
        for e in entries {
            guard let pid = Int32(e), let stat = try? String(contentsOfFile: "/proc/\(e)/stat", encoding: .utf8) else { continue }
            // Fields after the parenthesised command: state, ppid, ...
            guard let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == parent else { continue }
            let cmd = (try? String(contentsOfFile: "/proc/\(e)/cmdline", encoding: .utf8))?
                .replacingOccurrences(of: "\0", with: " ") ?? ""
            out.append((pid, cmd))
        }
        return out
    }

    /// The process's state letter (Z for a zombie), nil if gone.
    static func state(_ pid: Int32) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first?.first
    }

    /// Children of `parent` that are zombies (exited, never reaped).
    static func zombies(of parent: Int32) -> [Int32] {
        children(of: parent).map(\.pid).filter { state($0) == "Z" }
    }

    static func fdCount(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count ?? -1
    }

    /// The process's environment variable names.
    static func environmentNames(_ pid: Int32) -> [String]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
        return data.split(separator: 0).map { String(decoding: $0.prefix { $0 != UInt8(ascii: "=") }, as: UTF8.self) }
    }
}
