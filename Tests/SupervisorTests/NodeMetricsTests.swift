import XCTest
@testable import Supervisor

/// The supervisor's Prometheus metrics from its children's heartbeat counters: counters advance
/// by each child's delta (a restarted child starts over), and the text is valid exposition.
final class NodeMetricsTests: XCTestCase {
    /// Sample lines by series (`name{labels}`) with their values; comments left out.
    static func samples(_ m: NodeMetrics) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in String(decoding: m.exposition(), as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                XCTFail("not a sample line: \(line)")
                continue
            }
            out[String(line[..<space])] = value
        }
        return out
    }

    func testCountersAdvanceByDeltasAcrossHeartbeats() {
        let m = NodeMetrics()
        m.heartbeat(slot: "acceptor", role: "acceptor", counters: ["accepted_total": 3, "refused_total": 1, "pending": 2])
        m.heartbeat(slot: "acceptor", role: "acceptor", counters: ["accepted_total": 5, "refused_total": 1, "pending": 0])
        let s = Self.samples(m)
        XCTAssertEqual(s[#"stockade_inbound_connections_total{result="accepted"}"#], 5)
        XCTAssertEqual(s[#"stockade_inbound_connections_total{result="refused"}"#], 1)
        XCTAssertEqual(s["stockade_pending_handshakes"], 0, "a gauge shows the latest value")
    }

    func testRestartedChildCountsFromItsNewValue() {
        let m = NodeMetrics()
        m.heartbeat(slot: "worker[0]", role: "worker", counters: ["handshakes_ok_total": 10])
        // worker[0] restarted: its own count starts over at 2, so 2 more happened.
        m.heartbeat(slot: "worker[0]", role: "worker", counters: ["handshakes_ok_total": 2])
        m.heartbeat(slot: "worker[1]", role: "worker", counters: ["handshakes_ok_total": 4])
        XCTAssertEqual(Self.samples(m)[#"stockade_handshakes_total{result="ok",reason=""}"#], 16)
    }

    func testFailureReasonsBecomeLabels() {
        let m = NodeMetrics()
        m.heartbeat(slot: "worker[0]", role: "worker", counters: ["handshakes_failed_timeout_total": 2, "handshakes_failed_total": 2])
        let s = Self.samples(m)
        XCTAssertEqual(s[#"stockade_handshakes_total{result="failed",reason="timeout"}"#], 2)
        XCTAssertFalse(s.keys.contains { $0.contains("reason=\"\"") && $0.contains("failed") }, "the sum is not a reason: \(s)")
    }

    func testPeerManagerGaugesRestartsAndDisconnects() {
        let m = NodeMetrics()
        m.heartbeat(slot: "peer-manager", role: "peer-manager",
                    counters: ["peers_inbound": 3, "peers_outbound": 1, "run_loop_lag_us": 2500, "dials_total": 4, "dials_failed_total": 1,
                               "bytes_in_total": 100, "bytes_out_total": 50])
        m.restarted(role: "worker")
        m.restarted(role: "worker")
        m.peerDropped(reason: "too_many_peers", by: "local")
        m.workers(up: 2)
        let s = Self.samples(m)
        XCTAssertEqual(s[#"stockade_peers{direction="inbound"}"#], 3)
        XCTAssertEqual(s[#"stockade_peers{direction="outbound"}"#], 1)
        XCTAssertEqual(s["stockade_run_loop_lag_seconds"], 0.0025)
        XCTAssertEqual(s[#"stockade_dials_total{result="started"}"#], 4)
        XCTAssertEqual(s[#"stockade_dials_total{result="failed"}"#], 1)
        XCTAssertEqual(s["stockade_peer_received_bytes_total"], 100)
        XCTAssertEqual(s["stockade_peer_sent_bytes_total"], 50)
        XCTAssertEqual(s[#"stockade_child_restarts_total{role="worker"}"#], 2)
        XCTAssertEqual(s[#"stockade_disconnects_total{reason="too_many_peers",side="local"}"#], 1)
        XCTAssertEqual(s["stockade_workers_up"], 2)
    }

    func testEveryFamilyIsNamedByConvention() {
        let m = NodeMetrics()
        m.heartbeat(slot: "peer-manager", role: "peer-manager", counters: ["peers_inbound": 1, "dials_total": 1, "peers_added_total": 1])
        m.heartbeat(slot: "acceptor", role: "acceptor", counters: ["accepted_total": 1])
        m.restarted(role: "acceptor")
        let text = String(decoding: m.exposition(), as: UTF8.self)
        var types: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let words = line.split(separator: " ")
            XCTAssertEqual(words.count, 4, "\(line)")
            types[String(words[2])] = String(words[3])
        }
        XCTAssertFalse(types.isEmpty)
        for (name, type) in types {
            XCTAssertTrue(name.hasPrefix("stockade_"), name)
            if type == "counter" { XCTAssertTrue(name.hasSuffix("_total"), "counter \(name)") }
            if type == "gauge" { XCTAssertFalse(name.hasSuffix("_total"), "gauge \(name)") }
        }
    }
}

/// Issue 11: every counter the README lists is there from the start, at 0.
final class NodeMetricsStartTests: XCTestCase {
    func testReadmeCountersExistAtZeroBeforeAnyEvent() {
        let text = String(decoding: NodeMetrics().exposition(), as: UTF8.self)
        for series in [#"stockade_handshakes_total{result="ok",reason=""} 0"#, #"stockade_dials_total{result="started"} 0"#,
                       #"stockade_dials_total{result="failed"} 0"#, #"stockade_inbound_connections_total{result="accepted"} 0"#,
                       #"stockade_inbound_connections_total{result="refused"} 0"#, #"stockade_child_restarts_total{role="worker"} 0"#,
                       #"stockade_disconnects_total{reason="requested",side="remote"} 0"#, "stockade_peer_received_bytes_total 0",
                       "stockade_peer_sent_bytes_total 0", "stockade_pending_handshakes 0.0", "stockade_workers_up 0.0",
                       "stockade_sessions_open 0.0", "stockade_datagrams_dropped_total 0", "stockade_window_stalls_total 0",
                       "stockade_mux_protocol_errors_total 0", "stockade_session_flow_violations_total 0",
                       #"stockade_session_opens_total{result="denied",reason=""} 0"#, #"stockade_stream_bytes_total{direction="in"} 0"#] {
            XCTAssertTrue(text.contains(series + "\n"), "missing \(series):\n\(text)")
        }
    }
}
