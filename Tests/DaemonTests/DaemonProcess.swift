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
    private let lock = NSLock()
    private var stdoutText = ""
    private var stderrText = ""

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

    /// Starts `stockade <arguments>`; `run` gets a fresh state directory and a 127.0.0.1:0
    /// listener unless the arguments say otherwise.
    init(_ arguments: [String], environment: [String: String] = [:], executable: String? = nil) throws {
        stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: stateDir, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: executable ?? Self.binary)
        var args = arguments
        if args.first == "run" {
            if !args.contains("--state-dir") { args += ["--state-dir", stateDir.path] }
            if !args.contains("--listen") { args += ["--listen", "127.0.0.1:0"] }
        }
        process.arguments = args
        var env = ProcessInfo.processInfo.environment
        for k in ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"] { env[k] = nil }
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        collect(out.fileHandleForReading) { [unowned self] s in lock.withLock { stdoutText += s } }
        collect(err.fileHandleForReading) { [unowned self] s in lock.withLock { stderrText += s } }
    }

    private func collect(_ handle: FileHandle, _ append: @escaping @Sendable (String) -> Void) {
        Thread.detachNewThread {
            while true {
                let data = handle.availableData
                if data.isEmpty { return }
                append(String(decoding: data, as: UTF8.self))
            }
        }
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { lock.withLock { stdoutText } }
    var stderr: String { lock.withLock { stderrText } }

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

    func signal(_ sig: Int32) { kill(pid, sig) }

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

    static func fdCount(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count ?? -1
    }
}
