import Enode
import TOMLKit

/// The streams tables (StreamsConfig.swift): `[mux]` and `[socks5]` are in the embedded defaults
/// like every other table; `[services]`, `[[allow]]`, `[[deny]]` and `[[forward]]` are optional
/// (nothing is served, allowed or forwarded by default) and, when written, replace the base's.
extension Reader {
    mutating func streams(_ root: TOMLTable, _ c: inout NodeConfig, strict: Bool) {
        section(root, "mux", known: ["max_sessions_per_peer", "max_pending_opens", "max_session_window", "max_peer_buffer",
                                     "max_total_buffer", "connect_timeout_ms", "open_timeout_ms", "udp_idle_timeout_ms"], strict: strict) { r, t in
            r.int(t, "mux", "max_sessions_per_peer", &c.mux.maxSessionsPerPeer, 1...65536)
            r.int(t, "mux", "max_pending_opens", &c.mux.maxPendingOpens, 1...65536)
            // The floor is the protocol's initial window (256 KiB): a session starts with it.
            r.int(t, "mux", "max_session_window", &c.mux.maxSessionWindow, (256 << 10)...(1 << 30))
            r.int(t, "mux", "max_peer_buffer", &c.mux.maxPeerBuffer, (1 << 20)...(1 << 36))
            r.int(t, "mux", "max_total_buffer", &c.mux.maxTotalBuffer, (1 << 20)...(1 << 40))
            r.int(t, "mux", "connect_timeout_ms", &c.mux.connectTimeoutMs, 100...600_000)
            r.int(t, "mux", "open_timeout_ms", &c.mux.openTimeoutMs, 100...600_000)
            r.int(t, "mux", "udp_idle_timeout_ms", &c.mux.udpIdleTimeoutMs, 100...86_400_000)
        }
        if c.mux.maxTotalBuffer < c.mux.maxPeerBuffer {
            issue("mux.max_total_buffer", "must be at least mux.max_peer_buffer (\(c.mux.maxPeerBuffer)), or one peer could never use its share")
        }
        if c.mux.maxSessionWindow > c.mux.maxPeerBuffer {
            issue("mux.max_session_window", "must not exceed mux.max_peer_buffer (\(c.mux.maxPeerBuffer)): a window is a promise to buffer that much")
        }

        services(root, &c.services)
        rules(root, "allow", peersRequired: true, services: c.services, &c.allow)
        rules(root, "deny", peersRequired: false, services: c.services, &c.deny)

        section(root, "socks5", known: ["listen", "default_exit"], strict: strict) { r, t in
            r.string(t, "socks5", "listen", &c.socks5.listen) { $0.isEmpty || HostPort.parse($0) != nil ? nil : "not an IP:port address: \($0)" }
            r.string(t, "socks5", "default_exit", &c.socks5.defaultExit) { (text: String) throws(NodeConfig.GrammarError) -> String in
                text.isEmpty ? "" : try NodeConfig.nodeIDHex(text)
            }
        }
        forwards(root, &c.forwards, socks5: c.socks5.listen)
    }

    /// `[services]`: name = "host:port".
    private mutating func services(_ root: TOMLTable, _ out: inout [String: String]) {
        guard let value = root["services"] else { return }
        guard let t = value.table else { issue("services", "must be a table of name = \"host:port\""); return }
        var result: [String: String] = [:]
        var ok = true
        for name in t.keys.sorted() {
            let key = "services.\(name)"
            guard NodeConfig.isServiceName(name) else {
                issue(key, "not a service name ([a-z0-9][a-z0-9_-]{0,62}, lowercase)"); ok = false; continue
            }
            guard let text = t[name]?.string else { issue(key, "must be a string \"host:port\""); ok = false; continue }
            do { _ = try NodeConfig.parseEndpoint(text); result[name] = text } catch { issue(key, error.message); ok = false }
        }
        if ok { out = result }
    }

    /// `[[allow]]` or `[[deny]]`: each with `peers` (required for allow) and `targets` (required).
    private mutating func rules(_ root: TOMLTable, _ name: String, peersRequired: Bool, services: [String: String],
                                _ out: inout [NodeConfig.ExitRule]) {
        guard let tables = arrayOfTables(root, name, known: ["peers", "targets"]) else {
            // Rules kept from the base must still name services that exist.
            for (i, rule) in out.enumerated() where root[name] == nil {
                for (j, target) in rule.targets.enumerated() {
                    do { _ = try NodeConfig.TargetPattern(parsing: target, services: services) } catch {
                        issue("\(name)[\(i)].targets", "element \(j): \(error.message)")
                    }
                }
            }
            return
        }
        var result: [NodeConfig.ExitRule] = []
        let before = issues.count
        for (s, t) in tables {
            var rule = NodeConfig.ExitRule(peers: [], targets: [])
            if peersRequired || t["peers"] != nil {
                required(t, s, "peers", nonEmpty: peersRequired, why: "an allow rule names the peers it allows")
            }
            strings(t, s, "peers", &rule.peers) { (text: String) throws(NodeConfig.GrammarError) -> String in
                try NodeConfig.PeerSelector(parsing: text).text
            }
            required(t, s, "targets", nonEmpty: true, why: "a rule names its targets")
            strings(t, s, "targets", &rule.targets) { (text: String) throws(NodeConfig.GrammarError) -> String in
                _ = try NodeConfig.TargetPattern(parsing: text, services: services)
                return text
            }
            result.append(rule)
        }
        if issues.count == before { out = result }
    }

    /// `[[forward]]`: `listen`, `peer`, `target`, all required, and `network` ("tcp", the
    /// default, or "udp"); one forward per listen address and network.
    private mutating func forwards(_ root: TOMLTable, _ out: inout [NodeConfig.Forward], socks5: String) {
        guard let tables = arrayOfTables(root, "forward", known: ["listen", "peer", "target", "network"]) else { return }
        var result: [NodeConfig.Forward] = []
        let before = issues.count
        // Listen addresses by their canonical text, so `[::1]:80` and `[0::1]:80` collide.
        var taken: [String: String] = [:]
        if let hp = HostPort.parse(socks5) { taken[Self.listenKey(hp)] = "socks5.listen" }
        for (s, t) in tables {
            var f = NodeConfig.Forward(listen: "", peer: "", target: "")
            for key in ["listen", "peer", "target"] { required(t, s, key, nonEmpty: false, why: "a forward needs it") }
            string(t, s, "listen", &f.listen) { HostPort.parse($0) == nil ? "not an IP:port address: \($0)" : nil }
            string(t, s, "peer", &f.peer) { (text: String) throws(NodeConfig.GrammarError) -> String in try NodeConfig.nodeIDHex(text) }
            string(t, s, "target", &f.target, check: NodeConfig.forwardTargetProblem)
            string(t, s, "network", &f.network) { ["tcp", "udp"].contains($0) ? nil : "must be \"tcp\" or \"udp\"" }
            if let hp = HostPort.parse(f.listen) {
                let k = Self.listenKey(hp) + (f.network == "udp" ? " udp" : "")
                if let other = taken[k] { issue("\(s).listen", "\(f.listen) is already the listen address of \(other)") }
                taken[k] = "\(s)"
            }
            result.append(f)
        }
        if issues.count == before { out = result }
    }

    private static func listenKey(_ hp: HostPort) -> String {
        "\(IPAddress(hp.ip).map(NodeConfig.canonicalAddress)?.description ?? hp.ip) \(hp.port)"
    }

    /// The tables of `[[name]]`, each with its key prefix `name[i]`, unknown keys reported; nil
    /// when absent or not an array of tables (reported).
    private mutating func arrayOfTables(_ root: TOMLTable, _ name: String, known: Set<String>) -> [(String, TOMLTable)]? {
        guard let value = root[name] else { return nil }
        guard let array = value.array else { issue(name, "must be an array of tables ([[\(name)]])"); return nil }
        var tables: [(String, TOMLTable)] = []
        for (i, element) in array.enumerated() {
            let s = "\(name)[\(i)]"
            guard let t = element.table else { issue(s, "must be a table"); continue }
            unknownKeys(t, s, known: known)
            tables.append((s, t))
        }
        return tables
    }

    /// Reports `s.k` when it is missing, or (with `nonEmpty`) an empty array or string.
    private mutating func required(_ t: TOMLTable, _ s: String, _ k: String, nonEmpty: Bool, why: String) {
        guard let v = t[k] else { issue("\(s).\(k)", "missing (\(why))"); return }
        if nonEmpty, let a = v.array, a.count == 0 { issue("\(s).\(k)", "must not be empty (\(why))") }
    }
}
