import ArgumentParser
import ChildRuntime
#if canImport(Glibc)
import Glibc
#endif

@main
struct Stockade: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockade",
        abstract: "A privilege-separated devp2p/RLPx node daemon.",
        discussion: """
        Stockade keeps authenticated, encrypted RLPx links (wire-compatible with go-ethereum) to \
        other nodes. `stockade run` starts the daemon; the other commands manage keys and probe peers.
        """,
        version: "0.1.0",
        subcommands: [
            RunCommand.self, StatusCommand.self, PeersCommand.self, EventsCommand.self,
            AddPeerCommand.self, RemovePeerCommand.self, TrustCommand.self, UntrustCommand.self, DisconnectCommand.self,
            SessionsCommand.self, ForwardCommand.self, NodesCommand.self, ConnectCommand.self,
            EnodeCommand.self, PingCommand.self, KeygenCommand.self, CheckConfigCommand.self, ChildCommand.self,
        ]
    )

    /// Bare `stockade`: the help, on stderr, and EX_USAGE (a command was expected).
    func run() throws {
        StandardStreams.write(Self.helpMessage() + "\n", to: STDERR_FILENO)
        throw ExitCode(Exit.usage)
    }
}
