import Prometheus

/// The node's Prometheus metrics, kept by the supervisor from its children's heartbeat counters
/// and the peer manager's events. Children restart and their counters start over, so each
/// counter advances by the delta since the child's previous heartbeat (a smaller value means a
/// new process: its whole value is the delta). Names follow Prometheus conventions:
/// `stockade_` prefix, `_total` for counters, units in the name.
final class NodeMetrics {
    let registry = PrometheusCollectorRegistry()
    private var last: [String: UInt64] = [:]
    /// What the counters advanced by since the last `takePeriod()`, by "role/counter": the
    /// periodic log summary's numbers.
    private var period: [String: UInt64] = [:]

    /// Every counter and gauge the README lists exists from the start, at 0, so a dashboard
    /// or an alert (`rate(...)`, `absent(...)`) sees the series before the first event.
    init() {
        for (role, names) in [
            ("worker", ["handshakes_ok_total"]),
            ("peer-manager", ["dials_total", "dials_failed_total", "peers_added_total", "bytes_in_total", "bytes_out_total",
                              "datagrams_dropped_total", "stream_bytes_in_total", "stream_bytes_out_total", "window_stalls_total",
                              "session_flow_violations_total", "mux_protocol_errors_total", "session_opens_started_total",
                              "session_opens_accepted_total", "session_opens_denied_total", "session_opens_refused_total"]),
            ("acceptor", ["accepted_total", "refused_total"]),
        ] {
            for name in names { touch(role: role, counter: name) }
        }
        for role in ["acceptor", "worker", "peer-manager"] { restartCounter(role: role) }
        for side in ["local", "remote"] { disconnectCounter(reason: "requested", by: side) }
        for gauge in [peersInbound, peersOutbound, pending, runLoopLag, workersUp, sessionsOpen, streamBuffered] { gauge.set(Double(0)) }
    }

    private lazy var peersInbound = registry.makeGauge(name: "stockade_peers", labels: [("direction", "inbound")], help: "Live peers by direction.")
    private lazy var peersOutbound = registry.makeGauge(name: "stockade_peers", labels: [("direction", "outbound")], help: "Live peers by direction.")
    private lazy var pending = registry.makeGauge(name: "stockade_pending_handshakes", help: "Connections in handshakes (acceptor's count).")
    private lazy var runLoopLag = registry.makeGauge(name: "stockade_run_loop_lag_seconds", help: "How late the peer manager's run loop ran its last tick.")
    private lazy var workersUp = registry.makeGauge(name: "stockade_workers_up", help: "Handshake workers running and healthy.")
    private lazy var sessionsOpen = registry.makeGauge(name: "stockade_sessions_open", help: "Mux sessions open over all peer links.")
    private lazy var streamBuffered = registry.makeGauge(name: "stockade_stream_buffered_bytes", help: "Session bytes held by the peer manager: queued to send or received and not yet written.")

    /// Called with each heartbeat of a child (`slot` names the process: "worker[0]", …).
    func heartbeat(slot: String, role: String, counters: [String: UInt64]) {
        for (name, value) in counters {
            let key = slot + "/" + name
            let before = last[key] ?? 0
            last[key] = value
            let delta = value >= before ? value - before : value
            if name.hasSuffix("_total") {
                advance(role: role, counter: name, by: delta)
                if delta > 0 { period[role + "/" + name, default: 0] += delta }
            }
        }
        switch role {
        case "peer-manager":
            peersInbound.set(Double(counters["peers_inbound"] ?? 0))
            peersOutbound.set(Double(counters["peers_outbound"] ?? 0))
            runLoopLag.set(Double(counters["run_loop_lag_us"] ?? 0) / 1e6)
            sessionsOpen.set(Double(counters["sessions_open"] ?? 0))
            streamBuffered.set(Double(counters["stream_buffered_bytes"] ?? 0))
        case "acceptor":
            pending.set(Double(counters["pending"] ?? 0))
        default:
            break
        }
    }

    func workers(up: Int) { workersUp.set(Double(up)) }

    func crashLooping(child: String, _ looping: Bool) {
        registry.makeGauge(name: "stockade_child_crash_looping", labels: [("child", child)],
                           help: "1 while a child is crash-looping (the node is degraded), else 0.").set(Double(looping ? 1 : 0))
    }

    func restarted(role: String) { restartCounter(role: role).increment() }

    @discardableResult
    private func restartCounter(role: String) -> Counter {
        registry.makeCounter(name: "stockade_child_restarts_total", labels: [("role", role)], help: "Child processes restarted by the supervisor.")
    }

    /// A peer dropped; `by` is the side that ended the link: "remote" (the peer sent
    /// Disconnect or closed) or "local" (this node decided).
    func peerDropped(reason: String, by: String) { disconnectCounter(reason: reason, by: by).increment() }

    @discardableResult
    private func disconnectCounter(reason: String, by: String) -> Counter {
        registry.makeCounter(name: "stockade_disconnects_total", labels: [("reason", reason), ("side", by)],
                             help: "Peers dropped, by devp2p disconnect reason and the side that ended the link.")
    }

    /// The counters' advance since the previous call, by "role/counter", and a fresh period.
    func takePeriod() -> [String: UInt64] {
        defer { period = [:] }
        return period
    }

    /// The Prometheus text exposition of every metric.
    func exposition() -> [UInt8] {
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }

    /// Heartbeat counter names to metric names and labels.
    private func advance(role: String, counter name: String, by delta: UInt64) {
        guard delta > 0 else {
            touch(role: role, counter: name)
            return
        }
        metric(role: role, counter: name)?.increment(by: Int64(clamping: delta))
    }

    private func touch(role: String, counter name: String) { _ = metric(role: role, counter: name) }

    private func metric(role: String, counter name: String) -> Counter? {
        switch (role, name) {
        case ("worker", "handshakes_ok_total"):
            return registry.makeCounter(name: "stockade_handshakes_total", labels: [("result", "ok"), ("reason", "")], help: "Handshakes by result and failure reason.")
        case ("worker", let n) where n.hasPrefix("handshakes_failed_") && n != "handshakes_failed_total":
            let reason = String(n.dropFirst("handshakes_failed_".count).dropLast("_total".count))
            return registry.makeCounter(name: "stockade_handshakes_total", labels: [("result", "failed"), ("reason", reason)], help: "Handshakes by result and failure reason.")
        case ("peer-manager", "dials_total"):
            return registry.makeCounter(name: "stockade_dials_total", labels: [("result", "started")], help: "Dials by result.")
        case ("peer-manager", "dials_failed_total"):
            return registry.makeCounter(name: "stockade_dials_total", labels: [("result", "failed")], help: "Dials by result.")
        case ("peer-manager", "peers_added_total"):
            return registry.makeCounter(name: "stockade_peers_added_total", help: "Peers that became live.")
        case ("peer-manager", "bytes_in_total"):
            return registry.makeCounter(name: "stockade_peer_received_bytes_total", help: "Bytes received from live peers.")
        case ("peer-manager", "bytes_out_total"):
            return registry.makeCounter(name: "stockade_peer_sent_bytes_total", help: "Bytes sent to live peers.")
        case ("peer-manager", let n) where n.hasPrefix("session_opens_failed_") && n.hasSuffix("_total"):
            // session_opens_failed_<reason>_total: connection_refused, timed_out, host_unreachable, …
            let reason = String(n.dropFirst("session_opens_failed_".count).dropLast("_total".count))
            return registry.makeCounter(name: "stockade_session_opens_total", labels: [("result", "failed"), ("reason", reason)],
                                        help: "Mux session opens by result (failures by reason).")
        case ("peer-manager", let n) where n.hasPrefix("session_opens_") && n.hasSuffix("_total"):
            // session_opens_<result>_total: started (by this node's clients), accepted, denied, refused.
            let result = String(n.dropFirst("session_opens_".count).dropLast("_total".count))
            return registry.makeCounter(name: "stockade_session_opens_total", labels: [("result", result), ("reason", "")],
                                        help: "Mux session opens by result (failures by reason).")
        case ("peer-manager", "datagrams_dropped_total"):
            return registry.makeCounter(name: "stockade_datagrams_dropped_total", help: "UDP datagrams dropped: too large, past a session's queue, or to a denied destination.")
        case ("peer-manager", "stream_bytes_in_total"):
            return registry.makeCounter(name: "stockade_stream_bytes_total", labels: [("direction", "in")], help: "Session data received from peers (in) and sent to them (out).")
        case ("peer-manager", "stream_bytes_out_total"):
            return registry.makeCounter(name: "stockade_stream_bytes_total", labels: [("direction", "out")], help: "Session data received from peers (in) and sent to them (out).")
        case ("peer-manager", "window_stalls_total"):
            return registry.makeCounter(name: "stockade_window_stalls_total", help: "Times a session had data to send and no window left.")
        case ("peer-manager", "session_flow_violations_total"):
            return registry.makeCounter(name: "stockade_session_flow_violations_total", help: "Sessions aborted because the peer sent past the window.")
        case ("peer-manager", "datagrams_dropped_total"):
            return registry.makeCounter(name: "stockade_datagrams_dropped_total", help: "UDP datagrams dropped: too large, past a session's queue, or to or from an address the exit does not allow.")
        case ("peer-manager", "mux_protocol_errors_total"):
            return registry.makeCounter(name: "stockade_mux_protocol_errors_total", help: "Peers disconnected for breaking the mux protocol.")
        case ("acceptor", "accepted_total"):
            return registry.makeCounter(name: "stockade_inbound_connections_total", labels: [("result", "accepted")], help: "Inbound TCP connections by admission result.")
        case ("acceptor", "refused_total"):
            return registry.makeCounter(name: "stockade_inbound_connections_total", labels: [("result", "refused")], help: "Inbound TCP connections by admission result.")
        default:
            return nil
        }
    }
}
