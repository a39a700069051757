import ArgumentParser
import Control
import Foundation

/// `stockade sessions`: the mux sessions of every peer link.
struct SessionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List the streams over peer links: session, peer, direction, target, state, bytes, windows, age.")
    @OptionGroup var control: ControlOptions
    @Flag(help: "One JSON document for scripts.") var json = false

    func run() throws {
        let sessions = try control.call(ControlRequest(command: .sessions)).sessions ?? []
        if json {
            try printJSON(sessions)
            return
        }
        guard !sessions.isEmpty else { print("no sessions"); return }
        let rows = sessions.map { s in
            [String(s.peer.prefix(16)) + "…", "\(s.session)", s.direction == "outbound" ? "out" : "in", s.target, s.state, s.local,
             "\(s.bytesIn)/\(s.bytesOut)", "\(s.receiveWindow / 1024)K/\(s.sendWindow / 1024)K", PeersCommand.age(s.ageSeconds)]
        }
        printTable(header: ["PEER", "ID", "DIR", "TARGET", "STATE", "LOCAL", "BYTES IN/OUT", "WINDOW RECV/SEND", "AGE"], rows: rows)
    }
}

/// `stockade nodes`: the static and trusted nodes, configured and changed at run time.
struct NodesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes",
        abstract: "List the static nodes (kept connected) and the trusted nodes, from the config and added at run time.")
    @OptionGroup var control: ControlOptions
    @Flag(help: "One JSON document for scripts.") var json = false

    func run() throws {
        let result = try control.call(ControlRequest(command: .nodes))
        if json {
            let lists = ["static": result.staticNodes ?? [], "trusted": result.trustedNodes ?? []]
            try printJSON(lists)
            return
        }
        for (title, list) in [("static", result.staticNodes ?? []), ("trusted", result.trustedNodes ?? [])] {
            print("\(title) (\(list.count)):")
            for url in list { print("  \(url)") }
        }
    }
}

/// `stockade forward add|remove|list`: local forwards at run time (as `ssh -L`).
struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Add, remove or list local forwards (as ssh -L) at run time.",
        subcommands: [Add.self, Remove.self, List.self],
        defaultSubcommand: List.self)

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Listen on LISTEN; each connection becomes a session to TARGET on PEER.",
            discussion: "Example: stockade forward add 127.0.0.1:8022 1a2b3c4d ssh  (a service the exit names ssh)")
        @OptionGroup var control: ControlOptions
        @Argument(help: "Local IP:port to listen on.") var listen: String
        @Argument(help: "The exit peer: node ID, a unique prefix of 8+ hex digits, or an enode URL.") var peer: String
        @Argument(help: "A service name of the exit, or host:port as the exit sees it.") var target: String
        @Flag(help: "Forward UDP datagrams (one session per client address) instead of TCP connections.") var udp = false
        func run() throws {
            var request = ControlRequest(command: .forwardAdd, listen: listen, peer: peer, target: target)
            request.network = udp ? "udp" : "tcp"
            print(try control.call(request).message ?? "ok")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the forward listening on LISTEN (open sessions go on).")
        @OptionGroup var control: ControlOptions
        @Argument(help: "The forward's local IP:port (a UDP forward's too).") var listen: String
        func run() throws {
            print(try control.call(ControlRequest(command: .forwardRemove, listen: listen)).message ?? "ok")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the forwards, from the config and added at run time.")
        @OptionGroup var control: ControlOptions
        func run() throws {
            let forwards = try control.call(ControlRequest(command: .forwards)).forwards ?? []
            guard !forwards.isEmpty else { print("no forwards"); return }
            printTable(header: ["LISTEN", "NET", "PEER", "TARGET", "FROM"],
                       rows: forwards.map { [$0.listen, $0.network, String($0.peer.prefix(16)) + "…", $0.target, $0.runtime ? "run time" : "config"] })
        }
    }
}
