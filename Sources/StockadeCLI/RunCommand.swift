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

    @Flag(name: .customLong("config-optional"),
          help: "A missing --config file is not an error: run on the defaults and the flags, and read the file at SIGHUP once it exists (the systemd unit's choice). Any other problem with the file still is one.")
    var configOptional = false

    @Option(help: "State directory holding the node key (node.state_dir).")
    var stateDir: String?

    @Option(help: "Node key file (node.key_file; default <state-dir>/nodekey).")
    var key: String?

    @Option(help: "Listen address IP:PORT; repeat for several (node.listen).")
    var listen: [String] = []

    @Option(help: "Handshake worker processes; 0 = one per core, at least 2 (workers.count).")
    var workers: Int?

    @Option(name: .customLong("link-threads"),
            help: "Event loops for the peer manager's links; 0 = one per core, 1 = all on one loop (node.link_threads).")
    var linkThreads: Int?

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

    @Option(name: .customLong("log-level"),
            help: "trace, debug, info, notice, warning, error or critical (node.log_level; per-connection lines are debug).")
    var logLevel: String?

    @Flag(help: "Print the embedded default configuration and exit.")
    var printDefaultConfig = false

    func validate() throws {
        if configOptional && config == nil { throw ValidationError("--config-optional: needs --config FILE") }
        // "10.0.0.0/8,,192.168.0.0/16" is a typo, not two networks.
        if let netrestrict, netrestrict.split(separator: ",", omittingEmptySubsequences: false)
            .contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("--netrestrict: empty entry in \"\(netrestrict)\" (a comma-separated list of CIDR networks)")
        }
        for (flag, values) in [("--listen", listen), ("--static", staticNodes), ("--trusted", trustedNodes)]
        where values.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("\(flag): empty value")
        }
    }

    func run() throws {
        // Before anything opens a file: a closed stderr must not become the config file's fd.
        StandardStreams.sanitise()
        if printDefaultConfig {
            print(NodeConfig.defaultTOML)
            return
        }
        let (effective, missing) = try effectiveConfig()
        // One handler for every process: the children inherit the level through the environment.
        let level = Logger.Level(rawValue: effective.node.logLevel) ?? .info
        setenv(StockadeLog.levelVariable, level.rawValue, 1)
        StockadeLog.bootstrap(process: "supervisor", level: level)
        if let missing {
            StockadeLog.log(.notice, "config file \(missing) does not exist (--config-optional): running on the embedded defaults"
                + " and the command line; a reload (SIGHUP) reads the file once it exists")
        }
        let supervisor: Supervisor
        // Address in use, key unreadable, a second node: runtime failures, not usage errors.
        do { supervisor = try Supervisor(config: effective, configPath: config, commandLineOverrides: overridesTOML()) } catch {
            throw Exit.fail("\(error)", code: Exit.failure)
        }
        let code = try supervisor.run()
        if code != 0 { throw ExitCode(code) }
    }

    /// Defaults, then the file, then flags; every value checked by the same rules as the file.
    /// `missing` is the config file's path when --config-optional let its absence pass.
    func effectiveConfig() throws -> (config: NodeConfig, missing: String?) {
        var base = NodeConfig.defaults
        var missing: String?
        if let config {
            if configOptional && ConfigFile.isMissing(config) {
                missing = config
            } else {
                do { base = try ConfigFile.load(config) } catch {
                    throw Exit.fail(error.description, code: Exit.config)
                }
            }
        }
        let overrides = overridesTOML()
        if overrides.isEmpty { return (base, missing) }
        do { base = try NodeConfig.parse(overrides, over: base) } catch {
            // Name the flag, not a line of the TOML document the flags were turned into.
            let lines = error.issues.map { issue in "\(Self.flag(for: issue.key) ?? issue.key): \(issue.message)" }
            throw ValidationError(lines.joined(separator: "\n"))
        }
        return (base, missing)
    }

    /// The command-line flag that sets a config key, for error messages.
    static func flag(for key: String) -> String? {
        let flags = ["node.state_dir": "--state-dir", "node.key_file": "--key", "node.listen": "--listen", "node.log_level": "--log-level", "node.link_threads": "--link-threads",
                     "peers.static": "--static", "peers.trusted": "--trusted", "peers.max_peers": "--max-peers",
                     "peers.max_pending": "--max-pending", "peers.dial_ratio": "--dial-ratio", "peers.no_dial": "--no-dial",
                     "peers.netrestrict": "--netrestrict", "workers.count": "--workers", "control.socket": "--control-socket",
                     "metrics.listen": "--metrics"]
        // An element's issue ("peers.netrestrict[1]" or "peers.netrestrict: element 1") names its list.
        return flags.first { key == $0.key || key.hasPrefix($0.key + "[") || key.hasPrefix($0.key + ".") }?.value
    }

    /// The flags given, as TOML to parse over the file (empty when none were given).
    func overridesTOML() -> String {
        var overrides: [String] = []
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        var node: [String] = []
        if let stateDir { node.append("state_dir = \(q(stateDir))") }
        if let key { node.append("key_file = \(q(key))") }
        if let logLevel { node.append("log_level = \(q(logLevel))") }
        if let linkThreads { node.append("link_threads = \(linkThreads)") }
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
