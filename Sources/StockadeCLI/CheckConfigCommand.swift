#if canImport(Glibc)
import Glibc
#endif
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
        let config: NodeConfig
        do { config = try ConfigFile.load(file) } catch { throw Exit.fail(error.description, code: Exit.config) }
        print("\(file): OK (\(config.peers.static.count) static, \(config.peers.trusted.count) trusted, max_peers \(config.peers.maxPeers))")
        print("streams: \(config.services.count) services, \(config.allow.count) allow and \(config.deny.count) deny rules, "
            + "\(config.forwards.count) forwards, socks5 \(config.socks5.listen.isEmpty ? "off" : config.socks5.listen)")
    }
}

/// Reading a config file for a command, with errors a person can act on: the path and the
/// errno when it cannot be read, every issue with its line when it is wrong.
enum ConfigFile {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// No file at `path`, nor a directory on the way to it (ENOENT): what --config-optional
    /// lets pass. Any other reason a file cannot be read is not "missing".
    static func isMissing(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) != 0 && errno == ENOENT
    }

    static func load(_ path: String) throws(Problem) -> NodeConfig {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw Problem(description: "cannot read config file \(path): \(String(cString: strerror(errno))) (errno \(errno))")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw Problem(description: "config file \(path) is a directory (give the file, e.g. \(path)/stockade.toml)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            let e = access(path, R_OK) == 0 ? EIO : errno
            throw Problem(description: "cannot read config file \(path): \(String(cString: strerror(e))) (errno \(e))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Problem(description: "config file \(path) is not UTF-8 text")
        }
        do {
            return try NodeConfig.parse(text)
        } catch {
            let lines = error.issues.map { "\(path): \($0)" }.joined(separator: "\n")
            throw Problem(description: "invalid configuration (\(error.issues.count) error\(error.issues.count == 1 ? "" : "s")):\n\(lines)")
        }
    }
}
