import ArgumentParser
import DevP2P
import Enode
import Foundation
import PeerLink
import Secp256k1

/// go-ethereum's `devp2p rlpx ping`, extended with ping/pong round trips.
struct PingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Dial a node, run the RLPx handshake and Hello, and measure ping round trips.",
        discussion: """
        Prints the remote Hello (client id, version, capabilities) and each round-trip time, then \
        sends Disconnect(requested). Exits 0 on success; on failure prints what failed \
        (unreachable, handshake failure, the remote's disconnect reason, timeout) and exits 1. \
        A remote that hangs up before its auth-ack gets a hint that the node ID may be wrong (the \
        auth message is encrypted to it); a remote that answers with something else is named \
        ("the remote sent HTTP: not an RLPx node") or its first bytes are shown.
        """)

    @Argument(help: "The node to ping: enode://<node id>@<ip>:<port>.")
    var enode: String

    @Option(name: .shortAndLong, help: "Ping/pong round trips to make.")
    var count: Int = 3

    @Option(help: "Node key to authenticate with (default: a fresh key for this run).")
    var key: String?

    @Option(help: "Seconds allowed for the connection setup and for each round trip.")
    var timeout: Double = 5

    @Option(help: "Seconds to wait between pings.")
    var interval: Double = 0

    @Flag(help: "Print JSON lines instead of text.")
    var json = false

    func validate() throws {
        // No round trip means no median to print: a count of 0 is a usage error, not a result.
        guard count >= 1 && count <= 100_000 else { throw ValidationError("--count: must be in 1...100000, got \(count)") }
        guard timeout > 0 && timeout <= 3600 else { throw ValidationError("--timeout: must be in (0, 3600] seconds, got \(timeout)") }
        guard interval >= 0 && interval <= 3600 else { throw ValidationError("--interval: must be in [0, 3600] seconds, got \(interval)") }
    }

    func run() throws {
        let url: EnodeURL
        do { url = try EnodeURL(parsing: enode) } catch { throw ValidationError("not a valid enode URL: \(error)") }
        let localKey: PrivateKey
        if let key {
            // An unreadable key is a runtime failure (1), as for `run`, not a usage error.
            do { localKey = try NodeKeyFile.load(path: key).key } catch { throw Exit.fail("cannot load node key \(key): \(error)", code: Exit.failure) }
        } else {
            localKey = PrivateKey.generate()
        }
        let hello = Hello(clientID: StockadeProtocol.clientID + " (ping)", capabilities: [StockadeProtocol.capability],
                          listenPort: 0, nodeID: localKey.publicKey.raw64)
        let perStep = Duration.milliseconds(Int64(timeout * 1000))
        let out = PingOutput(json: json)

        let link: PeerLink
        do {
            link = try PeerLink.dial(url, key: localKey, hello: hello, timeout: perStep)
        } catch {
            out.failure(error.description)
            throw ExitCode(1)
        }
        out.hello(link.session.remoteHello, snappy: link.session.messages.snappyEnabled)
        var rtts: [Duration] = []
        for i in 0..<count {
            if i > 0 && interval > 0 { Thread.sleep(forTimeInterval: interval) }
            do {
                let rtt = try link.ping(timeout: perStep)
                rtts.append(rtt)
                out.rtt(seq: i + 1, rtt)
            } catch {
                out.failure(error.description)
                link.close()
                throw ExitCode(1)
            }
        }
        link.disconnect(.requested)
        out.summary(rtts)
    }
}

/// What `stockade ping` prints, as text or JSON lines.
struct PingOutput {
    let json: Bool

    func hello(_ h: Hello, snappy: Bool) {
        let caps = h.capabilities.map(\.description)
        if json {
            emit(["event": "hello", "client_id": h.clientID, "version": h.protocolVersion, "capabilities": caps,
                  "listen_port": h.listenPort, "snappy": snappy])
        } else {
            Console.line("remote hello: client \"\(h.clientID)\", p2p version \(h.protocolVersion), capabilities [\(caps.joined(separator: ", "))], snappy \(snappy ? "on" : "off")")
        }
    }

    func rtt(seq: Int, _ d: Duration) {
        let ms = Self.milliseconds(d)
        if json { emit(["event": "pong", "seq": seq, "rtt_ms": ms]) } else { Console.line(String(format: "pong %d: %.3f ms", seq, ms)) }
    }

    func summary(_ rtts: [Duration]) {
        let sorted = rtts.map(Self.milliseconds).sorted()
        let median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        if json {
            emit(["event": "done", "pings": rtts.count, "median_rtt_ms": median])
        } else {
            Console.line(String(format: "%d ping(s), median %.3f ms; disconnected (requested)", rtts.count, median))
        }
    }

    func failure(_ message: String) {
        if json { emit(["event": "error", "message": message]) }
        FileHandle.standardError.write(Data("stockade ping: \(message)\n".utf8))
    }

    private func emit(_ object: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
           let line = String(data: data, encoding: .utf8) { Console.line(line) }
    }

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }
}

/// Unbuffered lines on stdout: a script reading `stockade ping` sees each one as it happens.
enum Console {
    static func line(_ s: String) {
        FileHandle.standardOutput.write(Data((s + "\n").utf8))
    }
}
