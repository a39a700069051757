import ArgumentParser
import Control
import Foundation

/// Options every command that talks to a running daemon shares.
struct ControlOptions: ParsableArguments {
    @Option(name: .customLong("control-socket"),
            help: "The daemon's control socket (default: $STOCKADE_CONTROL_SOCKET, else the first that answers of ./.stockade-state/control.sock, /run/stockade/control.sock, /var/lib/stockade/control.sock).")
    var controlSocket: String?

    /// Sends one command and returns its result, or fails with the daemon's own words.
    func call(_ request: ControlRequest) throws -> ControlResult {
        let reply: ControlReply
        do { reply = try ControlClient(path: controlSocket).call(request) } catch {
            throw ControlCommandError("\(error)")
        }
        guard reply.ok else { throw ControlCommandError(reply.error ?? "the daemon refused the command") }
        return reply.result ?? ControlResult()
    }
}

struct ControlCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

struct PeersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "peers", abstract: "List the live peers.")
    @OptionGroup var control: ControlOptions
    @Flag(help: "One JSON document for scripts.") var json = false

    func run() throws {
        let peers = try control.call(ControlRequest(command: .peers)).peers ?? []
        if json {
            try printJSON(peers)
            return
        }
        guard !peers.isEmpty else { print("no peers"); return }
        let now = Date().timeIntervalSince1970
        let rows = peers.map { p in
            [String(p.id.prefix(16)) + "…", p.clientID, p.address, p.direction,
             [p.trusted ? "trusted" : nil, p.static ? "static" : nil].compactMap { $0 }.joined(separator: ","),
             p.capabilities.joined(separator: ","), Self.age(now - p.connectedSince), "\(p.bytesIn)/\(p.bytesOut)"]
        }
        printTable(header: ["ID", "CLIENT", "ADDRESS", "DIR", "FLAGS", "CAPS", "SINCE", "BYTES IN/OUT"], rows: rows)
    }

    static func age(_ s: Double) -> String {
        let t = Int(max(0, s))
        return t < 60 ? "\(t)s" : t < 3600 ? "\(t / 60)m\(t % 60)s" : "\(t / 3600)h\(t % 3600 / 60)m"
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the daemon's health (the numbers of its STATUS= line).")
    @OptionGroup var control: ControlOptions
    @Flag(help: "JSON for scripts.") var json = false

    func run() throws {
        guard let s = try control.call(ControlRequest(command: .status)).status else { throw ControlCommandError("no status in reply") }
        if json {
            try printJSON(s)
            return
        }
        print(s.line)
        print("enode: \(s.enode)")
        print("static nodes: \(s.staticNodes), trusted nodes: \(s.trustedNodes), uptime \(PeersCommand.age(s.uptimeSeconds))")
    }
}

/// add-peer, remove-peer, trust, untrust: one enode URL each.
struct EnodeEditCommand {
    static func run(_ command: ControlRequest.Command, enode: String, control: ControlOptions) throws {
        let result = try control.call(ControlRequest(command: command, enode: enode))
        print(result.message ?? "ok")
    }
}

struct AddPeerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add-peer", abstract: "Add a static node: kept connected and redialed (go-ethereum's admin.addPeer).")
    @OptionGroup var control: ControlOptions
    @Argument(help: "enode URL") var enode: String
    func run() throws { try EnodeEditCommand.run(.addPeer, enode: enode, control: control) }
}

struct RemovePeerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove-peer", abstract: "Remove a static node and disconnect it (go-ethereum's admin.removePeer).")
    @OptionGroup var control: ControlOptions
    @Argument(help: "enode URL") var enode: String
    func run() throws { try EnodeEditCommand.run(.removePeer, enode: enode, control: control) }
}

struct TrustCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "trust", abstract: "Trust a node: it may connect above the peer limits.")
    @OptionGroup var control: ControlOptions
    @Argument(help: "enode URL") var enode: String
    func run() throws { try EnodeEditCommand.run(.trust, enode: enode, control: control) }
}

struct UntrustCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "untrust", abstract: "Stop trusting a node.")
    @OptionGroup var control: ControlOptions
    @Argument(help: "enode URL") var enode: String
    func run() throws { try EnodeEditCommand.run(.untrust, enode: enode, control: control) }
}

struct DisconnectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "disconnect", abstract: "Disconnect a live peer with a devp2p reason.")
    @OptionGroup var control: ControlOptions
    @Argument(help: "Node ID, a unique prefix of at least 8 hex digits, or an enode URL.") var id: String
    @Option(help: "Reason: a name (requested, too_many_peers, TooManyPeers, too-many-peers, …) or a number (4, 0x04) from 0 to 16.")
    var reason: String = "requested"

    /// The node ID an enode URL names, or the argument as given.
    var nodeID: String {
        guard id.lowercased().hasPrefix("enode://") else { return id.lowercased() }
        return String(id.dropFirst("enode://".count).prefix { $0 != "@" }).lowercased()
    }

    func validate() throws {
        guard nodeID.count >= 8, nodeID.count <= 128, nodeID.allSatisfy(\.isHexDigit) else {
            throw ValidationError("\(id) is not a node ID: give the 128 hex digits, a unique prefix of at least 8, or an enode URL")
        }
        guard DisconnectReasonNames.code(reason) != nil else {
            throw ValidationError("unknown reason \(reason); a number from 0 to 16 or one of: "
                                  + DisconnectReasonNames.byCode.values.sorted().joined(separator: ", "))
        }
    }

    func run() throws {
        let result = try control.call(ControlRequest(command: .disconnect, id: nodeID, reason: DisconnectReasonNames.code(reason)))
        print(result.message ?? "ok")
    }
}

struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Stream peer events as JSON lines (added, dropped with reason and who asked, handshake failed).")
    @OptionGroup var control: ControlOptions
    @Option(help: "Stop after this many events (default: run until interrupted).") var count: Int?

    func run() throws {
        let client: ControlClient
        do { client = try ControlClient(path: control.controlSocket) } catch { throw ControlCommandError("\(error)") }
        let first = try client.call(ControlRequest(command: .events))
        guard first.ok else { throw ControlCommandError(first.error ?? "refused") }
        var seen = 0
        while count.map({ seen < $0 }) ?? true {
            guard let line = try client.readLine(timeoutSeconds: -1) else {
                // Every event received is printed; the stream ended because the daemon left.
                throw ControlCommandError("the daemon closed the event stream after \(seen) event(s) (stopped or restarted?)")
            }
            FileHandle.standardOutput.write(Data(line + [0x0a]))
            seen += 1
        }
    }
}

/// A plain text table with left-aligned columns.
/// Prints `value` as `--json` output: the control protocol's snake_case keys, indented, keys
/// sorted, slashes unescaped.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = ControlCoding.encoder
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

func printTable(header: [String], rows: [[String]]) {
    var widths = header.map(\.count)
    for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
    }
    print(line(header))
    for r in rows { print(line(r)) }
}
