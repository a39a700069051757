/// Config files for the daemons the tests start. Every daemon runs two workers: enough that one
/// can die while the other serves, few enough for the two cores the test machines share.
enum TestConfig {
    static let workers = 2

    static func toml(name: String? = nil, pingIntervalMs: Int? = nil, readTimeoutMs: Int? = nil) -> String {
        var lines: [String] = []
        if let name { lines += ["[node]", "name = \"\(name)\""] }
        lines += ["[workers]", "count = \(workers)"]
        if pingIntervalMs != nil || readTimeoutMs != nil { lines.append("[timeouts]") }
        if let pingIntervalMs { lines.append("ping_interval_ms = \(pingIntervalMs)") }
        if let readTimeoutMs { lines.append("read_timeout_ms = \(readTimeoutMs)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The roles a ready daemon runs: the peer manager, the workers and the acceptor.
    static var childCount: Int { workers + 2 }
}
