import Foundation
import TOMLKit

/// One thing wrong with a configuration file, located by line and dotted key.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    public let line: Int?
    public let key: String
    public let message: String

    public init(line: Int?, key: String, message: String) {
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        let at = line.map { "line \($0): " } ?? ""
        return key.isEmpty ? "\(at)\(message)" : "\(at)\(key): \(message)"
    }
}

/// A configuration that cannot be used, with every issue found (not just the first).
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let issues: [ConfigIssue]
    public init(issues: [ConfigIssue]) { self.issues = issues }
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// TOML text to `NodeConfig`: unknown keys and tables are errors, every value is type- and
/// range-checked, and all issues are reported together with their lines.
enum ConfigParser {
    /// Tables defined twice (`[peers]` … `[peers]`) and keys set twice in one table, each with
    /// its line and the line of the first definition. Arrays of tables (`[[allow]]`) repeat by
    /// design: each starts a fresh table.
    static func duplicateDefinitions(_ text: String) -> [ConfigIssue] {
        var issues: [ConfigIssue] = []
        var tables: [String: Int] = [:]
        var table = "", keys: [String: Int] = [:]
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[[") {
                table = String(line.dropFirst(2).prefix { $0 != "]" }).trimmingCharacters(in: .whitespaces)
                keys = [:]
            } else if line.hasPrefix("[") {
                table = String(line.dropFirst().prefix { $0 != "]" }).trimmingCharacters(in: .whitespaces)
                keys = [:]
                if let first = tables[table] {
                    issues.append(ConfigIssue(line: i + 1, key: table, message: "table [\(table)] defined again (first on line \(first))"))
                } else {
                    tables[table] = i + 1
                }
            } else if let eq = line.firstIndex(of: "="), !line.hasPrefix("#"), !line.hasPrefix("\"") {
                let key = line[..<eq].trimmingCharacters(in: .whitespaces)
                guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else { continue }
                let name = table.isEmpty ? key : table + "." + key
                if let first = keys[key] {
                    issues.append(ConfigIssue(line: i + 1, key: name, message: "set again (first on line \(first))"))
                } else {
                    keys[key] = i + 1
                }
            }
        }
        return issues
    }

    static func parse(_ text: String, base: NodeConfig?) throws(ConfigError) -> NodeConfig {
        // The TOML parser stops at the first duplicate; an operator gets every one, with its line.
        let duplicates = duplicateDefinitions(text)
        if !duplicates.isEmpty { throw ConfigError(issues: duplicates) }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw ConfigError(issues: [ConfigIssue(line: Int(e.source.begin.line), key: "", message: "not valid TOML: \(e.description)")])
        } catch {
            throw ConfigError(issues: [ConfigIssue(line: nil, key: "", message: "not valid TOML: \(error)")])
        }
        var reader = Reader(lines: KeyLines(text: text))
        // With no base, `text` is the embedded default and must define every key.
        var c = base ?? NodeConfig.placeholder
        let strict = base == nil

        reader.section(table, "node", known: ["name", "state_dir", "key_file", "listen", "log_level", "link_threads"], strict: strict) { r, t in
            r.string(t, "node", "name", &c.node.name) { $0.isEmpty || $0.utf8.count > 256 ? "must be 1 to 256 bytes" : nil }
            r.string(t, "node", "state_dir", &c.node.stateDir) { $0.isEmpty ? "must not be empty" : nil }
            r.string(t, "node", "key_file", &c.node.keyFile) { _ in nil }
            r.strings(t, "node", "listen", &c.node.listen) { HostPort.parse($0) == nil ? "not an IP:port address: \($0)" : nil }
            r.string(t, "node", "log_level", &c.node.logLevel) {
                NodeConfig.logLevels.contains($0) ? nil : "must be one of \(NodeConfig.logLevels.joined(separator: ", "))"
            }
            r.int(t, "node", "link_threads", &c.node.linkThreads, 0...256)
        }
        reader.section(table, "peers", known: ["max_peers", "max_pending", "dial_ratio", "no_dial", "static", "trusted", "netrestrict",
                                                  "inbound_throttle_ms", "throttle_lan", "penalties", "penalty_exempt",
                                                  "trusted_pending_slots", "max_pending_per_network"], strict: strict) { r, t in
            r.int(t, "peers", "max_peers", &c.peers.maxPeers, 0...100_000)
            r.int(t, "peers", "max_pending", &c.peers.maxPending, 1...10_000)
            r.int(t, "peers", "dial_ratio", &c.peers.dialRatio, 1...1_000)
            r.bool(t, "peers", "no_dial", &c.peers.noDial)
            r.strings(t, "peers", "static", &c.peers.static, check: EnodeCheck.staticProblem)
            r.strings(t, "peers", "trusted", &c.peers.trusted, check: ConfigParser.enodeProblem)
            r.strings(t, "peers", "netrestrict", &c.peers.netrestrict) { CIDR(parsing: $0) == nil ? "not a CIDR network: \($0)" : nil }
            r.int(t, "peers", "inbound_throttle_ms", &c.peers.inboundThrottleMs, 0...3_600_000)
            r.bool(t, "peers", "throttle_lan", &c.peers.throttleLAN)
            r.bool(t, "peers", "penalties", &c.peers.penalties)
            r.strings(t, "peers", "penalty_exempt", &c.peers.penaltyExempt) { CIDR(parsing: $0) == nil ? "not a CIDR network: \($0)" : nil }
            r.int(t, "peers", "trusted_pending_slots", &c.peers.trustedPendingSlots, 0...10_000)
            r.int(t, "peers", "max_pending_per_network", &c.peers.maxPendingPerNetwork, 0...10_000)
        }
        reader.section(table, "workers", known: ["count", "handshake_timeout_ms", "first_bytes_timeout_ms"], strict: strict) { r, t in
            r.int(t, "workers", "count", &c.workers.count, 0...64)
            r.int(t, "workers", "handshake_timeout_ms", &c.workers.handshakeTimeoutMs, 100...120_000)
            r.int(t, "workers", "first_bytes_timeout_ms", &c.workers.firstBytesTimeoutMs, 100...120_000)
        }
        reader.section(table, "timeouts", known: ["ping_interval_ms", "read_timeout_ms", "write_timeout_ms", "dial_timeout_ms"], strict: strict) { r, t in
            r.int(t, "timeouts", "ping_interval_ms", &c.timeouts.pingIntervalMs, 100...3_600_000)
            r.int(t, "timeouts", "read_timeout_ms", &c.timeouts.readTimeoutMs, 100...3_600_000)
            r.int(t, "timeouts", "write_timeout_ms", &c.timeouts.writeTimeoutMs, 100...3_600_000)
            r.int(t, "timeouts", "dial_timeout_ms", &c.timeouts.dialTimeoutMs, 100...3_600_000)
        }
        reader.section(table, "control", known: ["socket"], strict: strict) { r, t in
            r.string(t, "control", "socket", &c.control.socket) { _ in nil }
        }
        reader.section(table, "metrics", known: ["listen"], strict: strict) { r, t in
            r.string(t, "metrics", "listen", &c.metrics.listen) { $0.isEmpty || HostPort.parse($0) != nil ? nil : "not an IP:port address: \($0)" }
        }
        reader.streams(table, &c, strict: strict)
        let known = ["node", "peers", "workers", "timeouts", "control", "metrics", "mux", "services", "allow", "deny", "socks5", "forward"]
        for key in table.keys where !known.contains(key) {
            reader.issue(key, "unknown table or key (known tables: node, peers, workers, timeouts, control, metrics, mux, services, "
                + "[[allow]], [[deny]], socks5, [[forward]])")
        }
        if c.peers.trustedPendingSlots >= c.peers.maxPending && !c.peers.trusted.isEmpty {
            reader.issue("peers.trusted_pending_slots", "must be below peers.max_pending, or untrusted peers could never connect")
        }
        if c.peers.maxPeers > 0 && c.timeouts.pingIntervalMs >= c.timeouts.readTimeoutMs {
            reader.issue("timeouts.ping_interval_ms", "must be below timeouts.read_timeout_ms, or idle peers are dropped between pings")
        }
        // A Unix socket path is at most 107 bytes (sun_path holds 108 with its NUL): a longer
        // one would fail only at bind, after the node key and listeners were set up.
        let socketPath = c.control.socket.isEmpty ? c.node.stateDir + "/control.sock" : c.control.socket
        if socketPath.utf8.count > NodeConfig.maxSocketPathBytes {
            reader.issue(c.control.socket.isEmpty ? "node.state_dir" : "control.socket",
                         "the control socket path \(socketPath) is \(socketPath.utf8.count) bytes, over the "
                            + "\(NodeConfig.maxSocketPathBytes)-byte limit of a Unix socket path (sun_path); "
                            + (c.control.socket.isEmpty ? "set control.socket to a shorter path" : "choose a shorter path"))
        }
        if !reader.issues.isEmpty { throw ConfigError(issues: reader.issues.sorted { ($0.line ?? 0) < ($1.line ?? 0) }) }
        return c
    }

    /// Set by the Enode-aware layer: nil when `url` is a valid enode URL, else why not.
    static func enodeProblem(_ url: String) -> String? {
        EnodeCheck.problem(url)
    }
}

extension NodeConfig {
    /// Parses a config file's text over the embedded defaults.
    public static func parse(_ text: String) throws(ConfigError) -> NodeConfig {
        try ConfigParser.parse(text, base: NodeConfig.defaults)
    }

    /// Parses `text` over an existing config (command-line overrides over a file).
    public static func parse(_ text: String, over base: NodeConfig) throws(ConfigError) -> NodeConfig {
        try ConfigParser.parse(text, base: base)
    }

    /// Only used while parsing the embedded defaults, which set every field.
    static let placeholder = NodeConfig(
        node: .init(name: "", stateDir: "", keyFile: "", listen: [], logLevel: "info", linkThreads: 0),
        peers: .init(maxPeers: 0, maxPending: 0, dialRatio: 0, noDial: false, static: [], trusted: [], netrestrict: [],
                     inboundThrottleMs: 0, throttleLAN: false, penalties: false, penaltyExempt: [], trustedPendingSlots: 0,
                     maxPendingPerNetwork: 0),
        workers: .init(count: 0, handshakeTimeoutMs: 0, firstBytesTimeoutMs: 0),
        timeouts: .init(pingIntervalMs: 0, readTimeoutMs: 0, writeTimeoutMs: 0, dialTimeoutMs: 0),
        control: .init(socket: ""), metrics: .init(listen: ""))
}

/// Reads typed values out of TOML tables, recording an issue (with its line) for each problem.
struct Reader {
    let lines: KeyLines
    var issues: [ConfigIssue] = []

    init(lines: KeyLines) { self.lines = lines }

    mutating func issue(_ key: String, _ message: String) {
        issues.append(ConfigIssue(line: lines.line(of: key), key: key, message: message))
    }

    mutating func section(_ root: TOMLTable, _ name: String, known: Set<String>, strict: Bool, _ body: (inout Reader, TOMLTable) -> Void) {
        guard let value = root[name] else {
            if strict { issue(name, "missing table") }
            return
        }
        guard let t = value.table else { issue(name, "must be a table"); return }
        unknownKeys(t, name, known: known)
        body(&self, t)
    }

    mutating func unknownKeys(_ t: TOMLTable, _ name: String, known: Set<String>) {
        for key in t.keys where !known.contains(key) {
            issue("\(name).\(key)", "unknown key (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    mutating func int(_ t: TOMLTable, _ s: String, _ k: String, _ out: inout Int, _ range: ClosedRange<Int>) {
        guard let v = t[k] else { return }
        guard let i = v.int else { issue("\(s).\(k)", "must be an integer"); return }
        guard range.contains(i) else { issue("\(s).\(k)", "must be in \(range.lowerBound)...\(range.upperBound), got \(i)"); return }
        out = i
    }

    mutating func bool(_ t: TOMLTable, _ s: String, _ k: String, _ out: inout Bool) {
        guard let v = t[k] else { return }
        guard let b = v.bool else { issue("\(s).\(k)", "must be true or false"); return }
        out = b
    }

    mutating func string(_ t: TOMLTable, _ s: String, _ k: String, _ out: inout String, check: (String) -> String?) {
        string(t, s, k, &out) { (str: String) throws(NodeConfig.GrammarError) -> String in
            if let problem = check(str) { throw NodeConfig.GrammarError(problem) }
            return str
        }
    }

    /// A string, stored as `normalize` returns it (a node ID from an enode URL, say).
    mutating func string(_ t: TOMLTable, _ s: String, _ k: String, _ out: inout String,
                         normalize: (String) throws(NodeConfig.GrammarError) -> String) {
        guard let v = t[k] else { return }
        guard let str = v.string else { issue("\(s).\(k)", "must be a string"); return }
        do { out = try normalize(str) } catch { issue("\(s).\(k)", error.message) }
    }

    mutating func strings(_ t: TOMLTable, _ s: String, _ k: String, _ out: inout [String], check: (String) -> String?) {
        strings(t, s, k, &out) { (str: String) throws(NodeConfig.GrammarError) -> String in
            if let problem = check(str) { throw NodeConfig.GrammarError(problem) }
            return str
        }
    }

    /// An array of strings, each stored as `normalize` returns it; unchanged if any is refused.
    mutating func strings(_ t: TOMLTable, _ s: String, _ k: String, _ out: inout [String],
                          normalize: (String) throws(NodeConfig.GrammarError) -> String) {
        guard let v = t[k] else { return }
        guard let arr = v.array else { issue("\(s).\(k)", "must be an array of strings"); return }
        var result: [String] = []
        var ok = true
        for (i, e) in arr.enumerated() {
            guard let str = e.string else { issue("\(s).\(k)", "element \(i) must be a string"); ok = false; continue }
            do { result.append(try normalize(str)) } catch { issue("\(s).\(k)", "element \(i): \(error.message)"); ok = false }
        }
        if ok { out = result }
    }
}

/// Where each `table.key` is written in the file, found by a line scan (TOMLKit keeps no
/// positions for values). Handles `[table]` headers and `key = value` lines.
struct KeyLines {
    private var lineOf: [String: Int] = [:]
    private var arrayCounts: [String: Int] = [:]

    init(text: String) {
        var table = ""
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.drop { $0 == " " || $0 == "\t" }
            if line.hasPrefix("#") || line.isEmpty { continue }
            if line.hasPrefix("[[") {
                // An array of tables: the n-th `[[allow]]` header opens `allow[n]` (0-based).
                let name = line.dropFirst(2).prefix { $0 != "]" }.trimmingSpaces()
                let index = arrayCounts[name, default: 0]
                arrayCounts[name] = index + 1
                table = "\(name)[\(index)]"
                if lineOf[name] == nil { lineOf[name] = i + 1 }
                lineOf[table] = i + 1
                continue
            }
            if line.hasPrefix("[") {
                let name = line.dropFirst().prefix { $0 != "]" }.trimmingSpaces()
                table = name
                if lineOf[name] == nil { lineOf[name] = i + 1 }
                continue
            }
            if let eq = line.firstIndex(of: "=") {
                let key = line[..<eq].trimmingSpaces().replacingQuotes()
                let full = table.isEmpty ? key : "\(table).\(key)"
                if lineOf[full] == nil { lineOf[full] = i + 1 }
            }
        }
    }

    /// The line of `key`, else of the nearest enclosing table written in the file (a required key
    /// that is missing from `[[allow]]` number 1 is reported at that table's header).
    func line(of key: String) -> Int? {
        var k = Substring(key)
        while !k.isEmpty {
            if let line = lineOf[String(k)] { return line }
            guard let cut = k.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            k = k[..<cut]
        }
        return nil
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension String {
    func replacingQuotes() -> String { filter { $0 != "\"" && $0 != "'" } }
}
