import ArgumentParser
import Control
import Enode
import Foundation
import NodeConfig
import Secp256k1

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create a node key and print the node's ID.",
        discussion: "The key is written as 64 hex characters, mode 0600, like go-ethereum's nodekey. An existing file is never overwritten.")

    @Option(name: .shortAndLong, help: "Where to write the key.")
    var out: String = "nodekey"

    func run() throws {
        if FileManager.default.fileExists(atPath: out) {
            throw Exit.fail("\(out) already exists; refusing to overwrite a node key", code: Exit.failure)
        }
        let key = PrivateKey.generate()
        do { try NodeKeyFile.write(key, to: out) } catch { throw Exit.fail("cannot write \(out): \(error)", code: Exit.failure) }
        print(NodeID(publicKey: key.publicKey).hex)
    }
}

struct EnodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enode",
        abstract: "Print the enode URL of a node key, or of the running daemon.")

    @Option(help: "The node key file (without it, ask the running daemon).")
    var key: String?

    @Option(help: "The address to put in the URL, IP:PORT (with --key).")
    var addr: String = "127.0.0.1:30303"

    @OptionGroup var control: ControlOptions

    func run() throws {
        guard let key else {
            print(try control.call(ControlRequest(command: .enode)).enode ?? "")
            return
        }
        let loaded: LoadedNodeKey
        // An unreadable key is a runtime failure (1), not a usage error.
        do { loaded = try NodeKeyFile.load(path: key) } catch { throw Exit.fail("cannot load node key \(key): \(error)", code: Exit.failure) }
        let url = try EnodeURL(nodeID: NodeID(publicKey: loaded.key.publicKey), address: addr)
        print(url)
    }
}

extension EnodeURL {
    /// An enode URL for `nodeID` at an `IP:PORT` written by a person.
    init(nodeID: NodeID, address: String) throws {
        guard let hp = HostPort.parse(address), let ip = IPAddress(hp.ip) else {
            throw ValidationError("not an IP:PORT address: \(address)")
        }
        self.init(nodeID: nodeID, ip: ip, tcpPort: hp.port)
    }
}
