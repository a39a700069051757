import Enode
import Foundation
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The Prometheus endpoint of a running daemon, scraped over HTTP: valid text exposition,
/// names by convention, and the same numbers `stockade status` shows.
final class ControlMetricsTests: XCTestCase {
    func testMetricsScrapeAsValidPrometheusText() throws {
        let port = try freeLoopbackPort()
        let daemon = try DaemonProcess(["run", "--metrics", "127.0.0.1:\(port)", "--max-peers", "2", "--no-dial"], config: TestConfig.toml())
        defer { daemon.stop() }
        try daemon.waitReady()
        XCTAssertTrue(daemon.waitForLog("metrics on http://127.0.0.1:\(port)/metrics"), daemon.stderr)
        let enode = try EnodeURL(parsing: daemon.enode())

        // Something to count: two peers, one refused, one that leaves with a reason.
        let kept = [PeerAdmission.attempt(enode), PeerAdmission.attempt(enode)]
        for k in kept { XCTAssertNotNil(k.link, "\(k)\n\(daemon.stderr)") }
        XCTAssertEqual(PeerAdmission.attempt(enode).reason, .tooManyPeers, daemon.stderr)
        kept[1].link?.disconnect(.uselessPeer)
        XCTAssertTrue(daemon.waitForLog("remote: useless peer"), daemon.stderr)

        // Heartbeats carry each child's counters once a second: wait until all of them show up.
        var text = ""
        let ready = daemon.waitFor(15) { _, _ in
            text = (try? Self.scrape(port: port, path: "/metrics"))?.body ?? ""
            return text.contains(#"stockade_peers{direction="inbound"} 1"#) && text.contains(#"stockade_disconnects_total{reason="useless_peer",side="remote"} 1"#)
                && text.contains(#"stockade_handshakes_total{result="failed",reason="rejected"} 1"#)
                && text.contains(#"stockade_handshakes_total{result="ok",reason=""} 2"#)
                && text.contains(#"stockade_inbound_connections_total{result="accepted"} 3"#)
        }
        XCTAssertTrue(ready, "metrics never showed the peers:\n\(text)\n\(daemon.stderr)")

        let problems = Self.expositionProblems(text)
        XCTAssertEqual(problems, [], text)
        let samples = Self.samples(text)
        // Two handshakes handed over; the third refused at its post-handshake check.
        XCTAssertEqual(samples[#"stockade_handshakes_total{result="ok",reason=""}"#], 2, text)
        XCTAssertEqual(samples[#"stockade_handshakes_total{result="failed",reason="rejected"}"#], 1, text)
        XCTAssertEqual(samples[#"stockade_inbound_connections_total{result="refused"}"#], 0, text)
        XCTAssertEqual(samples["stockade_workers_up"], Double(TestConfig.workers), text)
        XCTAssertNotNil(samples["stockade_run_loop_lag_seconds"], text)
        XCTAssertNotNil(samples["stockade_pending_handshakes"], text)
        XCTAssertGreaterThan(samples["stockade_peer_received_bytes_total"] ?? 0, 0, text)

        // `stockade status` tells the same numbers.
        let status = try daemon.status { $0["peers_inbound"] as? Int == 1 }
        XCTAssertEqual((status["peers_inbound"] as? Int).map(Double.init), samples[#"stockade_peers{direction="inbound"}"#], "\(status)\n\(text)")
        XCTAssertEqual((status["peers_outbound"] as? Int).map(Double.init), samples[#"stockade_peers{direction="outbound"}"#], "\(status)\n\(text)")
        XCTAssertEqual((status["workers_up"] as? Int).map(Double.init), samples["stockade_workers_up"], "\(status)\n\(text)")

        // Only /metrics is served.
        let other = try Self.scrape(port: port, path: "/admin")
        XCTAssertTrue(other.head.hasPrefix("HTTP/1.1 404"), other.head)
        withExtendedLifetime(kept) {}
    }

    // MARK: HTTP and the text format

    /// One GET on a fresh connection (the endpoint closes after each answer).
    static func scrape(port: UInt16, path: String) throws -> (head: String, body: String) {
        guard let address = SocketAddress(ip: "127.0.0.1", port: port) else { throw DaemonTestError("bad address") }
        let c = try RawConnection(to: address)
        try c.write(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
        var response: [UInt8] = []
        let end = Date().addingTimeInterval(5)
        while Date() < end {
            guard let byte = c.read(exactly: 1, timeout: max(0.01, end.timeIntervalSinceNow)) else { break }
            response += byte
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw DaemonTestError("no HTTP response: \(text)") }
        let head = String(text[..<split.lowerBound]), body = String(text[split.upperBound...])
        if head.hasPrefix("HTTP/1.1 200") {
            guard head.contains("Content-Type: text/plain; version=0.0.4") else { throw DaemonTestError("content type: \(head)") }
            guard head.contains("Content-Length: \(body.utf8.count)") else { throw DaemonTestError("length: \(head) vs \(body.utf8.count)") }
        }
        return (head, body)
    }

    /// Sample values by series (`name{labels}`).
    static func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = v
        }
        return out
    }

    /// Every way `text` breaks the Prometheus text format (0.0.4) or Stockade's naming rules:
    /// each line a comment or `name{labels} value`; names `stockade_…`; counters `…_total`;
    /// every sample belongs to a family declared by a TYPE line before it.
    static func expositionProblems(_ text: String) -> [String] {
        var problems: [String] = []
        var types: [String: String] = [:]
        let name = #"[a-zA-Z_:][a-zA-Z0-9_:]*"#
        let label = #"[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*""#
        let value = #"(?:[+-]?(?:[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|Inf)|NaN)"#
        let sample = try! NSRegularExpression(pattern: "^(\(name))(?:\\{(?:\(label)(?:,\(label))*)?,?\\})? \(value)(?: -?[0-9]+)?$")
        let typeLine = try! NSRegularExpression(pattern: "^# TYPE (\(name)) (counter|gauge|histogram|summary|untyped)$")
        let helpLine = try! NSRegularExpression(pattern: "^# HELP (\(name)) .*$")
        guard text.hasSuffix("\n") else { return ["the exposition must end with a newline"] }
        for raw in text.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            let range = NSRange(line.startIndex..., in: line)
            func group(_ m: NSTextCheckingResult, _ i: Int) -> String { String(line[Range(m.range(at: i), in: line)!]) }
            if line.hasPrefix("#") {
                if let m = typeLine.firstMatch(in: line, range: range) {
                    let family = group(m, 1), type = group(m, 2)
                    if types[family] != nil { problems.append("TYPE declared twice: \(line)") }
                    types[family] = type
                    if !family.hasPrefix("stockade_") { problems.append("name without the stockade_ prefix: \(family)") }
                    if type == "counter" && !family.hasSuffix("_total") { problems.append("counter not ending in _total: \(family)") }
                    if type != "counter" && family.hasSuffix("_total") { problems.append("\(type) ending in _total: \(family)") }
                } else if helpLine.firstMatch(in: line, range: range) == nil {
                    problems.append("malformed comment: \(line)")
                }
                continue
            }
            guard let m = sample.firstMatch(in: line, range: range) else {
                problems.append("not `name{labels} value`: \(line)")
                continue
            }
            let series = group(m, 1)
            if types[series] == nil { problems.append("sample before its TYPE line: \(line)") }
        }
        if types.isEmpty { problems.append("no metric families") }
        return problems
    }
}
