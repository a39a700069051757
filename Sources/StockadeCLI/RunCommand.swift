import ArgumentParser
import ChildRuntime
import Foundation
import NodeConfig
import Supervisor

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the node daemon (supervisor, acceptor, handshake workers, peer manager).",
        discussion: """
        With no options it runs the embedded default configuration (see --print-default-config): \
        listens on 127.0.0.1:30303 and creates its node key in the state directory on first run. \
        Flags override the config file, which overrides the defaults. Under systemd it takes its \
        listening socket from socket activation and reports READY, STATUS and WATCHDOG. \
        SIGTERM disconnects every peer with Quitting and exits; SIGHUP reloads the config file.
        """)

    @Option(help: "TOML configuration file (see --print-default-config for every key).")
    var config: String?

    @Option(help: "State directory holding the node key (node.state_dir).")
    var stateDir: String?

    @Option(help: "Node key file (node.key_file; default <state-dir>/nodekey).")
    var key: String?

    @Option(help: "Listen address IP:PORT; repeat for several (node.listen).")
    var listen: [String] = []

    @Option(help: "Handshake worker processes; 0 = one per core, at least 2 (workers.count).")
    var workers: Int?

    @Option(name: .customLong("static"), help: "Static node enode URL, kept connected; repeat for several (peers.static).")
    var staticNodes: [String] = []

    @Option(name: .customLong("trusted"), help: "Trusted node enode URL, allowed above the limits (peers.trusted).")
    var trustedNodes: [String] = []

    @Option(name: .customLong("max-peers"), help: "Maximum peers (peers.max_peers).")
    var maxPeers: Int?

    @Option(name: .customLong("max-pending"), help: "Maximum handshakes in flight (peers.max_pending).")
    var maxPending: Int?

    @Option(name: .customLong("dial-ratio"), help: "At most max-peers/dial-ratio peers are dialed (peers.dial_ratio).")
    var dialRatio: Int?

    @Flag(name: .customLong("no-dial"), help: "Never dial out (peers.no_dial).")
    var noDial = false

    @Option(help: "Comma-separated CIDR allowlist (peers.netrestrict).")
    var netrestrict: String?

    @Option(name: .customLong("control-socket"), help: "Control socket path (control.socket).")
    var controlSocket: String?

    @Option(help: "Prometheus endpoint IP:PORT (metrics.listen).")
    var metrics: String?

    @Flag(help: "Print the embedded default configuration and exit.")
    var printDefaultConfig = false

    func run() throws {
        // Before anything opens a file: a closed stderr must not become the config file's fd.
        StandardStreams.sanitise()
        if printDefaultConfig {
            print(NodeConfig.defaultTOML)
            return
        }
        let effective = try effectiveConfig()
        let supervisor: Supervisor
        do { supervisor = try Supervisor(config: effective, configPath: config, commandLineOverrides: overridesTOML()) } catch {
            throw ValidationError("\(error)")
        }
        let code = try supervisor.run()
        if code != 0 { throw ExitCode(code) }
    }

    /// Defaults, then the file, then flags; every value checked by the same rules as the file.
    func effectiveConfig() throws -> NodeConfig {
        var text = ""
        if let config {
            guard let data = FileManager.default.contents(atPath: config), let t = String(data: data, encoding: .utf8) else {
                throw ValidationError("cannot read config file \(config)")
            }
            text = t
        }
        var base: NodeConfig
        do { base = try NodeConfig.parse(text) } catch {
            let where_ = config ?? "config"
            throw ValidationError("invalid configuration:\n" + error.issues.map { "\(where_): \($0)" }.joined(separator: "\n"))
        }
        let overrides = overridesTOML()
        if overrides.isEmpty { return base }
        do { base = try NodeConfig.parse(overrides, over: base) } catch {
            throw ValidationError("invalid option:\n" + error.issues.map { "  \($0)" }.joined(separator: "\n"))
        }
        return base
    }

    /// The flags given, as TOML to parse over the file (empty when none were given).
    func overridesTOML() -> String {
        var overrides: [String] = []
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        var node: [String] = []
        if let stateDir { node.append("state_dir = \(q(stateDir))") }
        if let key { node.append("key_file = \(q(key))") }
        if !listen.isEmpty { node.append("listen = [\(listen.map(q).joined(separator: ", "))]") }
        var peers: [String] = []
        if !staticNodes.isEmpty { peers.append("static = [\(staticNodes.map(q).joined(separator: ", "))]") }
        if !trustedNodes.isEmpty { peers.append("trusted = [\(trustedNodes.map(q).joined(separator: ", "))]") }
        if let maxPeers { peers.append("max_peers = \(maxPeers)") }
        if let maxPending { peers.append("max_pending = \(maxPending)") }
        if let dialRatio { peers.append("dial_ratio = \(dialRatio)") }
        if noDial { peers.append("no_dial = true") }
        if let netrestrict {
            let list = netrestrict.split(separator: ",").map { q($0.trimmingCharacters(in: .whitespaces)) }
            peers.append("netrestrict = [\(list.joined(separator: ", "))]")
        }
        var other: [String] = []
        if let workers { other.append("[workers]\ncount = \(workers)") }
        if let controlSocket { other.append("[control]\nsocket = \(q(controlSocket))") }
        if let metrics { other.append("[metrics]\nlisten = \(q(metrics))") }
        if !node.isEmpty { overrides.append("[node]\n" + node.joined(separator: "\n")) }
        if !peers.isEmpty { overrides.append("[peers]\n" + peers.joined(separator: "\n")) }
        overrides += other
        return overrides.joined(separator: "\n")
    }
}
