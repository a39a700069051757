import DevP2P
import Enode
import Foundation
import PeerLink
import Secp256k1
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// What a running daemon did with one peer: kept it (it answered a ping from the peer
/// manager), refused it with a devp2p Disconnect reason, or closed the connection without one.
enum PeerAdmission: CustomStringConvertible {
    case kept(PeerLink)
    case refused(DisconnectReason)
    case closed(String)

    var reason: DisconnectReason? {
        if case .refused(let r) = self { return r }
        return nil
    }

    var link: PeerLink? {
        if case .kept(let l) = self { return l }
        return nil
    }

    var description: String {
        switch self {
        case .kept: return "kept"
        case .refused(let r): return "refused: \(r)"
        case .closed(let s): return "closed: \(s)"
        }
    }

    /// Dials `enode` as `key` with `hello` (a Stockade Hello for that key by default) and finds
    /// out what the daemon did. A refusal after the encryption handshake arrives in place of the
    /// daemon's Hello; one at the add-peer check arrives after it, so the link is then pinged:
    /// the daemon's Disconnect is written before it reads anything from an unwanted peer.
    static func attempt(_ enode: EnodeURL, key: PrivateKey = .generate(), hello: Hello? = nil) -> PeerAdmission {
        let link: PeerLink
        do {
            link = try PeerLink.dial(enode, key: key, hello: hello ?? TestPeer.hello(for: key), timeout: .seconds(10))
        } catch {
            if case .setup(.remoteDisconnected(let r)) = error { return .refused(r) }
            return .closed(error.description)
        }
        do {
            _ = try link.ping(timeout: .seconds(5))
            return .kept(link)
        } catch {
            if case .remoteDisconnected(let r) = error { return .refused(r) }
            return .closed(error.description)
        }
    }
}

/// A command run to completion: its exit status and everything it printed.
struct CLIResult: CustomStringConvertible {
    let status: Int32
    let stdout: String
    let stderr: String
    var description: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
}

/// Collects a pipe's bytes on a thread of its own until end of stream.
private final class PipeDrain: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            let all = handle.readDataToEndOfFile()
            lock.withLock { data = all }
            done.signal()
        }
    }

    /// The bytes, once the writer closed its end; nil if that did not happen within `timeout`.
    func text(timeout: TimeInterval) -> String? {
        guard done.wait(timeout: .now() + timeout) == .success else { return nil }
        return lock.withLock { String(decoding: data, as: UTF8.self) }
    }
}

/// Runs `executable <arguments>` to completion (killed after `timeout`), its output drained
/// on threads so a large output cannot block it on a full pipe.
func runToCompletion(_ executable: String, _ arguments: [String], timeout: TimeInterval) throws -> CLIResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    // stdin /dev/null: a command that reads stdin (`stockade connect`) sees EOF, not the test's.
    p.standardInput = FileHandle.nullDevice
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let outText = PipeDrain(out.fileHandleForReading), errText = PipeDrain(err.fileHandleForReading)
    let end = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < end { usleep(10_000) }
    if p.isRunning {
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        throw DaemonTestError("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout) s")
    }
    p.waitUntilExit()
    return CLIResult(status: p.terminationStatus, stdout: outText.text(timeout: 5) ?? "", stderr: errText.text(timeout: 5) ?? "")
}

extension DaemonProcess {
    /// The control socket `run` serves when none is configured: <state-dir>/control.sock.
    var controlSocket: String { stateDir.appendingPathComponent("control.sock").path }

    /// The node key the daemon created in its state directory.
    func nodeKey() throws -> PrivateKey {
        try NodeKeyFile.load(path: stateDir.appendingPathComponent("nodekey").path).key
    }

    /// Runs `stockade <arguments> --control-socket <this daemon's>` to completion.
    func control(_ arguments: [String], timeout: TimeInterval = 20) throws -> CLIResult {
        try DaemonProcess.stockade(arguments + ["--control-socket", controlSocket], timeout: timeout)
    }

    /// Runs `stockade <arguments>` to completion (killed after `timeout`).
    static func stockade(_ arguments: [String], timeout: TimeInterval = 20) throws -> CLIResult {
        try runToCompletion(binary, arguments, timeout: timeout)
    }

    /// Runs `executable <arguments>` to completion (killed after `timeout`), stdin /dev/null.
    static func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 20) throws -> CLIResult {
        try runToCompletion(executable, arguments, timeout: timeout)
    }

    /// `stockade events` against this daemon, known to be subscribed: it printed an event of
    /// `probe`'s, a peer that connects and leaves until it does. Stop it when done.
    func subscribeEvents(probe: TestIdentity) throws -> DaemonProcess {
        let events = try DaemonProcess(["events", "--control-socket", controlSocket])
        let enode = try EnodeURL(parsing: self.enode())
        for _ in 0..<20 where !events.stdout.contains(probe.nodeID.hex) {
            PeerAdmission.attempt(enode, key: probe.key).link?.disconnect(.requested)
            events.waitFor(1) { out, _ in out.contains(probe.nodeID.hex) }
        }
        guard events.stdout.contains(probe.nodeID.hex) else {
            events.stop()
            throw DaemonTestError("no events: \(events.stdout)\n\(events.stderr)\n\(stderr)")
        }
        return events
    }

    /// Polls `stockade status --json` until `predicate` holds (its numbers come with the
    /// children's once-a-second heartbeats, so they trail events by up to a second); the last
    /// status read.
    @discardableResult
    func status(within timeout: TimeInterval = 10, until predicate: ([String: Any]) -> Bool) throws -> [String: Any] {
        let end = Date().addingTimeInterval(timeout)
        var last = try status()
        while !predicate(last) && Date() < end {
            usleep(100_000)
            last = try status()
        }
        return last
    }

    /// `stockade status --json`, parsed.
    func status() throws -> [String: Any] {
        let r = try control(["status", "--json"])
        guard r.status == 0, let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
            throw DaemonTestError("stockade status failed: \(r)")
        }
        return json
    }
}

/// A peer identity of the test's own: a key and the enode URL naming it at 127.0.0.1 (the
/// port is only a label here; nothing listens on it).
struct TestIdentity {
    let key = PrivateKey.generate()
    var nodeID: NodeID { NodeID(publicKey: key.publicKey) }
    var enode: String { "enode://\(nodeID.hex)@127.0.0.1:30303" }
    var shortID: String { String(nodeID.hex.prefix(16)) }
}

/// A TCP connection to the daemon from another loopback source address (127.0.0.2, …), so the
/// acceptor sees a source other than 127.0.0.1. It sends nothing: it only holds a slot.
final class LoopbackSourceConnection {
    let fd: Int32

    init(from source: String, to enode: EnodeURL) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonTestError("socket: \(String(cString: strerror(errno)))") }
        var from = sockaddr_in(), to = sockaddr_in()
        from.sin_family = sa_family_t(AF_INET)
        to.sin_family = sa_family_t(AF_INET)
        to.sin_port = enode.tcpPort.bigEndian
        guard inet_pton(AF_INET, source, &from.sin_addr) == 1, inet_pton(AF_INET, "127.0.0.1", &to.sin_addr) == 1 else {
            Glibc.close(fd)
            throw DaemonTestError("bad address \(source)")
        }
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &from) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } }
        // Loopback connects complete at once (or fail at once): no deadline needed.
        let connected = bound == 0
            ? withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, size) } }
            : -1
        guard connected == 0 else {
            let e = errno
            Glibc.close(fd)
            throw DaemonTestError("connect from \(source): \(String(cString: strerror(e)))")
        }
        TCPSocket.setNonBlocking(fd)
    }

    deinit { Glibc.close(fd) }

    /// True once the daemon closed the connection (end of stream or reset) within `timeout`.
    func waitClosedByRemote(timeout: TimeInterval) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while true {
            let left = Int32(max(0, end.timeIntervalSinceNow * 1000))
            guard left > 0, TCPSocket.waitFor(fd, events: Int16(POLLIN), timeoutMilliseconds: left) else { return false }
            do {
                if let bytes = try TCPSocket.readAvailable(fd, max: 4096), bytes.isEmpty { return true }
            } catch {
                return true
            }
        }
    }
}
