import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// The supervisor's line to systemd (sd_notify(3)). Only the main process notifies
/// (NotifyAccess=main); children report their health to the supervisor instead. Without
/// NOTIFY_SOCKET every call is a no-op, so the daemon runs the same outside systemd.
public struct ServiceNotifier: Sendable {
    public init() {}

    /// True when systemd (or a test) gave us a notification socket.
    public var isActive: Bool { getenv("NOTIFY_SOCKET") != nil }

    public func ready(status: String? = nil) { send(["READY=1"] + statusField(status)) }
    public func reloading() {
        // systemd 253+ wants MONOTONIC_USEC with RELOADING=1; 252 ignores the extra field.
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let usec = UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
        send(["RELOADING=1", "MONOTONIC_USEC=\(usec)"])
    }
    public func stopping(status: String? = nil) { send(["STOPPING=1"] + statusField(status)) }
    public func status(_ line: String) { send(statusField(line)) }
    public func watchdog() { send(["WATCHDOG=1"]) }

    /// The watchdog interval systemd expects pings within (WATCHDOG_USEC), if enabled for us.
    public var watchdogInterval: Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec))
    }

    private func statusField(_ s: String?) -> [String] {
        guard let s else { return [] }
        // STATUS= is one line: a newline would end the field and start a bogus assignment.
        return ["STATUS=" + s.replacingNewlines()]
    }

    private func send(_ fields: [String]) {
        guard isActive else { return }
        _ = sd_notify(0, fields.joined(separator: "\n"))
    }
}

extension String {
    func replacingNewlines() -> String {
        String(self.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
