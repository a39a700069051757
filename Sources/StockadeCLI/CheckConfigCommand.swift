import ArgumentParser
import Foundation
import NodeConfig

struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file and report every error with its line and key.")

    @Argument(help: "The TOML configuration file.")
    var file: String

    func run() throws {
        let config = try ConfigFile.load(file)
        print("\(file): OK (\(config.peers.static.count) static, \(config.peers.trusted.count) trusted, max_peers \(config.peers.maxPeers))")
        print("streams: \(config.services.count) services, \(config.allow.count) allow and \(config.deny.count) deny rules, "
            + "\(config.forwards.count) forwards, socks5 \(config.socks5.listen.isEmpty ? "off" : config.socks5.listen)")
    }
}

/// Reading a config file for a command, with errors a person can act on.
enum ConfigFile {
    static func load(_ path: String) throws -> NodeConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read config file \(path): \(String(cString: strerror(errno)))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("config file \(path) is not UTF-8 text")
        }
        do {
            return try NodeConfig.parse(text)
        } catch {
            let lines = error.issues.map { "\(path): \($0)" }.joined(separator: "\n")
            throw ValidationError("invalid configuration (\(error.issues.count) error\(error.issues.count == 1 ? "" : "s")):\n\(lines)")
        }
    }
}
