import Enode
import NodeConfig

/// What the exit does with a peer's open.
public enum ExitDecision: Equatable, Sendable {
    /// Allowed: connect to this address (canonical) and port.
    case connect(IPAddress, UInt16)
    /// Resolve `name` off the run loop, then call `ExitPolicy.admit` with the addresses and
    /// `allowedByName`; connect only to what `admit` returns.
    case resolve(name: String, port: UInt16, allowedByName: Bool)
    /// Refused; why, in words an operator reads in a log.
    case deny(String)
}

/// The exit side's allowlist: which peer may open which target through this node (`[services]`,
/// `[[allow]]`, `[[deny]]`). Pure: no I/O, no DNS; the caller resolves names and asks again.
///
/// Default deny: with no `[[allow]]` rule nothing is reachable, so Stockade is never an open
/// proxy. A deny rule beats an allow rule. Every address is canonical (`AddressCanonicalizer`)
/// before a rule sees it, and a name's resolved addresses are checked one by one (`admit`), so
/// a name that resolves, or later re-resolves, to a denied address (DNS rebinding) reaches
/// nothing it could not reach by address.
public struct ExitPolicy: Sendable {
    typealias Pattern = NodeConfig.TargetPattern

    /// One `[[allow]]` or `[[deny]]` entry, parsed.
    struct Rule: Sendable {
        /// `allow[0]`, `deny[2]`: its place in the file (0-based, as the parser's issue keys).
        let label: String
        let nodes: Set<[UInt8]>
        let trusted: Bool
        /// A deny rule with no peers applies to every peer.
        let everyone: Bool
        let patterns: [Pattern]

        func applies(to nodeID: [UInt8], trusted isTrusted: Bool) -> Bool {
            everyone || nodes.contains(nodeID) || (trusted && isTrusted)
        }
    }

    struct Service: Sendable {
        let host: CanonicalHost
        let port: UInt16
    }

    let services: [String: Service]
    let allowRules: [Rule]
    let denyRules: [Rule]

    /// The policy of a parsed config (`NodeConfig.services`, `.allow`, `.deny`). Throws
    /// `ConfigError` (keys as the parser's: `services.web`, `allow[0].targets`, no line) only for
    /// entries the config parser refuses too, since both use the grammar of `NodeConfig`:
    /// a bad service name or `host:port`, a peer that is not "trusted", a node ID or an enode URL,
    /// a target outside the rule grammar, or an allow rule with no peers or no targets.
    public init(services: [String: String], allow: [NodeConfig.ExitRule], deny: [NodeConfig.ExitRule]) throws(ConfigError) {
        var issues: [ConfigIssue] = []
        var parsedServices: [String: Service] = [:]
        for (name, text) in services.sorted(by: { $0.key < $1.key }) {
            guard NodeConfig.isServiceName(name) else {
                issues.append(ConfigIssue(line: nil, key: "services.\(name)", message: "not a service name")); continue
            }
            do {
                let (host, port) = try NodeConfig.parseEndpoint(text)
                parsedServices[name] = Service(host: host, port: port)
            } catch {
                issues.append(ConfigIssue(line: nil, key: "services.\(name)", message: error.message))
            }
        }
        let allowRules = ExitPolicy.rules(allow, "allow", peersRequired: true, services: services, &issues)
        let denyRules = ExitPolicy.rules(deny, "deny", peersRequired: false, services: services, &issues)
        if !issues.isEmpty { throw ConfigError(issues: issues) }
        self.services = parsedServices
        self.allowRules = allowRules
        self.denyRules = denyRules
    }

    private init(services: [String: Service], allowRules: [Rule], denyRules: [Rule]) {
        self.services = services
        self.allowRules = allowRules
        self.denyRules = denyRules
    }

    private static func rules(_ entries: [NodeConfig.ExitRule], _ kind: String, peersRequired: Bool,
                              services: [String: String], _ issues: inout [ConfigIssue]) -> [Rule] {
        var rules: [Rule] = []
        for (i, entry) in entries.enumerated() {
            let label = "\(kind)[\(i)]"
            var nodes: Set<[UInt8]> = []
            var trusted = false
            for peer in entry.peers {
                do {
                    switch try NodeConfig.PeerSelector(parsing: peer) {
                    case .trusted: trusted = true
                    case .node(let id): nodes.insert(id)
                    }
                } catch {
                    issues.append(ConfigIssue(line: nil, key: "\(label).peers", message: error.message))
                }
            }
            var patterns: [Pattern] = []
            for target in entry.targets {
                do { patterns.append(try Pattern(parsing: target, services: services)) } catch {
                    issues.append(ConfigIssue(line: nil, key: "\(label).targets", message: error.message))
                }
            }
            if peersRequired && entry.peers.isEmpty {
                issues.append(ConfigIssue(line: nil, key: "\(label).peers", message: "must not be empty"))
            }
            if entry.targets.isEmpty {
                issues.append(ConfigIssue(line: nil, key: "\(label).targets", message: "must not be empty"))
            }
            rules.append(Rule(label: label, nodes: nodes, trusted: trusted, everyone: entry.peers.isEmpty, patterns: patterns))
        }
        return rules
    }

    /// Nothing allowed: what an exit with no streams configuration uses.
    public static let denyAll = ExitPolicy(services: [:], allowRules: [], denyRules: [])

    /// No allow rule at all: every open is refused.
    public var isEmpty: Bool { allowRules.isEmpty }

    /// The decision for `peer` (its 64-byte node ID; `trusted` as the peer set says) opening
    /// `target`:
    ///
    /// - `.address`: canonical; `.connect` if an applicable allow rule's IP or network and port
    ///   match and no applicable deny rule does.
    /// - `.service`: refused if unknown; allowed if an applicable allow rule names it and no deny
    ///   rule names it; then its configured host is checked against the deny rules (a service
    ///   pointing into a denied network is denied) and is `.connect` for an IP, `.resolve(
    ///   allowedByName: true)` for a DNS name.
    /// - `.name`: refused if a deny rule names it at that port; `.resolve(allowedByName: true)` if
    ///   an allow rule names it at that port; `.resolve(allowedByName: false)` if an allow rule's
    ///   IP or network could match an address at that port (`admit` then checks each address);
    ///   else refused. A name that is an IP in some form is decided as that address.
    public func decide(peer nodeID: [UInt8], trusted: Bool, target: ExitTarget) -> ExitDecision {
        let who = "peer \(Hex.encode(Array(nodeID.prefix(8))))"
        switch target {
        case .address(let raw, let port):
            let ip = AddressCanonicalizer.canonical(raw)
            let shown = ExitTarget.endpointText(ip, port)
            if let hit = firstMatch(denyRules, nodeID, trusted, { $0.matches(ip, port) }) {
                return .deny("\(who): \(shown) refused by \(hit)")
            }
            guard firstMatch(allowRules, nodeID, trusted, { $0.matches(ip, port) }) != nil else {
                return .deny("\(who): no allow rule matches \(shown)")
            }
            return .connect(ip, port)

        case .service(let name):
            guard let service = services[name] else { return .deny("\(who): no such service \"\(name)\"") }
            let shown = "service \(name) (\(service.text))"
            if let hit = firstMatch(denyRules, nodeID, trusted, { $0.matches(service: name) }) {
                return .deny("\(who): \(shown) refused by \(hit)")
            }
            guard firstMatch(allowRules, nodeID, trusted, { $0.matches(service: name) }) != nil else {
                return .deny("\(who): no allow rule matches \(shown)")
            }
            switch service.host {
            case .ip(let ip):
                if let hit = firstMatch(denyRules, nodeID, trusted, { $0.matches(ip, service.port) }) {
                    return .deny("\(who): \(shown) refused by \(hit)")
                }
                return .connect(ip, service.port)
            case .name(let host):
                if let hit = firstMatch(denyRules, nodeID, trusted, { $0.matches(name: host, service.port) }) {
                    return .deny("\(who): \(shown) refused by \(hit)")
                }
                return .resolve(name: host, port: service.port, allowedByName: true)
            }

        case .name(let raw, let port):
            switch AddressCanonicalizer.canonical(raw) {
            case nil:
                return .deny("\(who): not a valid host name: \(raw.debugDescription)")
            case .ip(let ip)?:
                return decide(peer: nodeID, trusted: trusted, target: .address(ip, port))
            case .name(let name)?:
                let shown = "\(name):\(port)"
                if let hit = firstMatch(denyRules, nodeID, trusted, { $0.matches(name: name, port) }) {
                    return .deny("\(who): \(shown) refused by \(hit)")
                }
                if firstMatch(allowRules, nodeID, trusted, { $0.matches(name: name, port) }) != nil {
                    return .resolve(name: name, port: port, allowedByName: true)
                }
                if firstMatch(allowRules, nodeID, trusted, { $0.matchesSomeAddress(port) }) != nil {
                    return .resolve(name: name, port: port, allowedByName: false)
                }
                return .deny("\(who): no allow rule matches \(shown)")
            }
        }
    }

    /// After resolving `name` (from `.resolve`): the addresses that may be connected to, in the
    /// resolver's order, each canonical (IPv4-mapped IPv6 is IPv4, unspecified is loopback) and
    /// once. An address is kept if no applicable deny rule matches it and, unless the name itself
    /// is allowed, an applicable allow rule's IP or network matches it. `allowedByName` is checked
    /// again against the rules (an allow rule naming `name:port`, or an allowed service at that
    /// name and port), so a stale or wrong flag cannot widen what is reachable. Empty: refuse.
    public func admit(peer nodeID: [UInt8], trusted: Bool, name: String, port: UInt16, resolved: [IPAddress],
                      allowedByName: Bool) -> [IPAddress] {
        guard case .name(let canonicalName)? = AddressCanonicalizer.canonical(name),
              firstMatch(denyRules, nodeID, trusted, { $0.matches(name: canonicalName, port) }) == nil else { return [] }
        let byName = allowedByName && nameIsAllowed(nodeID, trusted, canonicalName, port)
        var kept: [IPAddress] = []
        for raw in resolved {
            let ip = AddressCanonicalizer.canonical(raw)
            guard !kept.contains(ip),
                  firstMatch(denyRules, nodeID, trusted, { $0.matches(ip, port) }) == nil,
                  byName || firstMatch(allowRules, nodeID, trusted, { $0.matches(ip, port) }) != nil else { continue }
            kept.append(ip)
        }
        return kept
    }

    /// An allow rule names `name:port`, or names a service whose host is `name:port`, and no
    /// deny rule names that service.
    private func nameIsAllowed(_ nodeID: [UInt8], _ trusted: Bool, _ name: String, _ port: UInt16) -> Bool {
        if firstMatch(allowRules, nodeID, trusted, { $0.matches(name: name, port) }) != nil { return true }
        return services.contains { serviceName, service in
            service.host == .name(name) && service.port == port
                && firstMatch(allowRules, nodeID, trusted, { $0.matches(service: serviceName) }) != nil
                && firstMatch(denyRules, nodeID, trusted, { $0.matches(service: serviceName) }) == nil
        }
    }

    /// The first rule applying to the peer with a pattern for which `test` holds, as
    /// `deny[1] 127.0.0.0/8:*` (its label and the pattern as written).
    private func firstMatch(_ rules: [Rule], _ nodeID: [UInt8], _ trusted: Bool, _ test: (Pattern) -> Bool) -> String? {
        for rule in rules where rule.applies(to: nodeID, trusted: trusted) {
            if let pattern = rule.patterns.first(where: test) { return "\(rule.label) \(pattern.text)" }
        }
        return nil
    }
}

extension ExitPolicy.Service {
    var text: String {
        switch host {
        case .ip(let ip): return ExitTarget.endpointText(ip, port)
        case .name(let name): return "\(name):\(port)"
        }
    }
}

extension NodeConfig.TargetPattern {
    /// An IP or network pattern containing `ip`, with `port` in its range.
    func matches(_ ip: IPAddress, _ port: UInt16) -> Bool {
        guard ports.contains(port) else { return false }
        switch host {
        case .ip(let own): return own == ip
        case .network(let cidr): return cidr.contains(ip)
        case .service, .name: return false
        }
    }

    /// A name pattern equal to `name` (both canonical), with `port` in its range.
    func matches(name: String, _ port: UInt16) -> Bool {
        guard case .name(let own) = host else { return false }
        return own == name && ports.contains(port)
    }

    func matches(service name: String) -> Bool {
        host == .service(name)
    }

    /// An IP or network pattern whose ports include `port`: some resolved address could match.
    func matchesSomeAddress(_ port: UInt16) -> Bool {
        switch host {
        case .ip, .network: return ports.contains(port)
        case .service, .name: return false
        }
    }
}
