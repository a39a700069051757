import Acceptor
import ArgumentParser
import ChildRuntime
import HandshakeWorker
import IPC
import PeerManager

/// The entry point of each child role; the supervisor re-executes the binary with it.
struct ChildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "child",
        abstract: "Run one child role (started by the supervisor; not for direct use).",
        shouldDisplay: false)

    @Argument(help: "acceptor, worker or peer-manager")
    var role: String

    @Option(help: "Which worker this is.")
    var index: Int = 0

    @Option(help: "Listening sockets inherited at fds 4, 5, … (acceptor).")
    var listeners: Int = 0

    func run() throws {
        guard let r = IPCMessage.Role(argument: role) else { throw ValidationError("unknown role \(role)") }
        switch r {
        case .acceptor: try Acceptor(listenerCount: listeners).run()
        case .worker: try HandshakeWorker(index: index).run()
        case .peerManager: try PeerManager().run()
        }
    }
}
