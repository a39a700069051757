import Control
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

/// The chaos suite (issue 9), run by ops/chaos.sh: live peers held while a handshake flood,
/// random kill -9 of workers and the acceptor, SIGSTOP of every role, hostile inputs (malformed
/// handshakes, silent connections, a Ping flood) and slow control and metrics clients go on for
/// a bounded time on loopback; then the node must have kept its live peers, be back near its
/// descriptor and memory baselines with no zombie, its supervisor up, and every peer-added
/// event matched by at most one peer-dropped (none for a peer still live). Prints a table.
/// Skipped unless STOCKADE_CHAOS_SECONDS is set (ops/chaos.sh sets it: 20 short, 240 --long).
final class ChaosTests: XCTestCase {
    func testChaos() throws {
        guard let seconds = ProcessInfo.processInfo.environment["STOCKADE_CHAOS_SECONDS"].flatMap(Double.init) else {
            throw XCTSkip("set STOCKADE_CHAOS_SECONDS (ops/chaos.sh) to run the chaos suite")
        }
        let livePeerCount = seconds >= 120 ? 20 : 10
        let metricsPort = try freeLoopbackPort()
        let daemon = try DaemonProcess.ready(for: self, ["run", "--metrics", "127.0.0.1:\(metricsPort)", "--max-peers", "200"])
        let enode = try EnodeURL(parsing: daemon.enode())
        let address = try XCTUnwrap(SocketAddress(ip: "127.0.0.1", port: enode.tcpPort))
        let events = try DaemonProcess(["events", "--control-socket", daemon.controlSocket])
        defer { events.stop() }
        usleep(300_000)

        // Live peers, and the baselines with them in place.
        let liveKeys = (0..<livePeerCount).map { _ in PrivateKey.generate() }
        let live = try liveKeys.map { try TestPeer.live(enode, key: $0) }
        let before = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount))
        let baseFDs = FDCounts.stable(of: before.merging(["supervisor": daemon.pid]) { $1 }).mapValues(\.count)
        let baseRSS = before.merging(["supervisor": daemon.pid]) { $1 }.mapValues(ControlSocketAbuseTests.rssKiB)

        let stopAt = Date().addingTimeInterval(seconds)
        let tally = ChaosTally()
        var actors: [Thread] = []
        func actor(_ name: String, _ body: @escaping @Sendable () -> Void) {
            let t = Thread { body() }
            t.name = name
            actors.append(t)
            t.start()
        }
        let socket = daemon.controlSocket
        let supervisor = daemon.pid

        // Keep the live peers busy: a ping each, round-robin, all the time.
        let liveBox = UncheckedBox(live)
        actor("pinger") {
            while Date() < stopAt {
                for l in liveBox.value { if (try? l.ping(timeout: .seconds(10))) == nil { tally.add("live ping failed") } else { tally.add("live pings") } }
                usleep(200_000)
            }
        }
        // A handshake flood: dial, Hello, Ping, Disconnect, over and over.
        for _ in 0..<2 {
            actor("flood") {
                while Date() < stopAt {
                    if let l = try? TestPeer.dial(enode, timeout: .seconds(10)), (try? l.ping(timeout: .seconds(5))) != nil {
                        l.disconnect(.requested)
                        tally.add("handshakes ok")
                    } else {
                        tally.add("handshakes failed")
                    }
                }
            }
        }
        // Hostile inputs from addresses of their own (so no penalty lands on the live peers').
        actor("hostile") {
            var i = 0
            while Date() < stopAt {
                i += 1
                let source = "127.0.66.\(i % 200 + 1)"
                guard let c = try? RawConnection(to: address, from: source, timeoutMilliseconds: 2000) else { continue }
                switch i % 4 {
                case 0: try? c.write([0xFF, 0xFF] + [UInt8](repeating: 0x42, count: 64))            // oversize prefix
                case 1: try? c.write([0x01, 0x80] + (0..<384).map { _ in UInt8.random(in: 0...255) })  // garbage auth
                case 2: try? c.write([0x01, 0x80, 0x04])                                             // half an auth, then gone
                default: break                                                                       // silent
                }
                _ = c.waitClosedByRemote(timeout: i % 4 == 2 ? 0.1 : 3)
                tally.add("hostile connections")
            }
        }
        // A Ping flood from a peer that never reads (bounded: a few thousand Pings).
        actor("ping flood") {
            while Date() < stopAt {
                guard let l = try? TestPeer.dial(enode, timeout: .seconds(10)) else { continue }
                for _ in 0..<2000 where Date() < stopAt { if (try? l.send(BaseProtocolMessage.ping, timeout: .seconds(1))) == nil { break } }
                l.close()
                tally.add("ping floods")
                sleep(2)
            }
        }
        // Slow control clients: idle connections, a watcher that never reads, a pipeliner.
        actor("slow control") {
            var held: [Int32] = []
            while Date() < stopAt {
                if let fd = try? ControlSocketAbuseTests.connect(socket) {
                    if held.count % 3 == 0 { ControlSocketAbuseTests.write(fd, Array("{\"command\":\"events\"}\n".utf8)) }
                    if held.count % 3 == 1 { ControlSocketAbuseTests.write(fd, Array(String(repeating: "{\"command\":\"status\"}\n", count: 100).utf8)) }
                    held.append(fd)
                }
                if held.count > 60 { close(held.removeFirst()) }
                if let r = try? DaemonProcess.stockade(["status", "--control-socket", socket], timeout: 15), r.status == 0 {
                    tally.add("status ok")
                } else {
                    tally.add("status failed")
                }
                usleep(300_000)
            }
            held.forEach { _ = close($0) }
        }
        // Slow metrics clients, and scrapes between them.
        actor("slow metrics") {
            var held: [RawConnection] = []
            while Date() < stopAt {
                if let c = try? RawConnection(to: SocketAddress(ip: "127.0.0.1", port: metricsPort)!) {
                    try? c.write(Array("GET /metrics HTTP/1.1\r\n".utf8))
                    held.append(c)
                }
                if held.count > 32 { held.removeFirst() }
                if let r = try? ControlMetricsTests.scrape(port: metricsPort, path: "/metrics"), r.head.hasPrefix("HTTP/1.1 200") {
                    tally.add("scrapes ok")
                } else {
                    tally.add("scrapes failed")
                }
                usleep(200_000)
            }
        }
        // The monkey, in turns: kill -9 of a random worker or the acceptor (the peer manager
        // holds the live peers: killing it would drop them by design), then SIGSTOP of any
        // role, the peer manager included, for 0.5 to 3 s.
        actor("monkey") {
            var turn = 0
            while Date() < stopAt {
                usleep(UInt32.random(in: 500_000...1_500_000))
                turn += 1
                let roles = ProcessTable.children(of: supervisor).filter { $0.role.contains(" child ") }
                if turn % 2 == 1 {
                    guard let victim = roles.filter({ !$0.role.contains("peer-manager") }).randomElement() else { continue }
                    kill(victim.pid, SIGKILL)
                    tally.add("kill -9")
                } else {
                    guard let victim = roles.randomElement() else { continue }
                    kill(victim.pid, SIGSTOP)
                    usleep(UInt32.random(in: 500_000...3_000_000))
                    kill(victim.pid, SIGCONT)
                    tally.add("SIGSTOP")
                }
            }
        }
        while actors.contains(where: { !$0.isFinished }) { usleep(100_000) }

        // Settle: every role up, then the checks.
        var checks: [(String, String, String, Bool)] = []
        let after = daemon.waitForChildren(TestConfig.childCount, timeout: 30)
        checks.append(("supervisor up", ProcessTable.state(daemon.pid).map { "state \($0)" } ?? "gone", "running", ProcessTable.state(daemon.pid).map { $0 != "Z" } ?? false))
        checks.append(("children up", "\(after?.count ?? 0)", "\(TestConfig.childCount)", after != nil))
        var kept = 0
        for l in live where (try? l.ping(timeout: .seconds(10))) != nil { kept += 1 }
        checks.append(("live peers kept", "\(kept)/\(live.count)", "all", kept == live.count))
        checks.append(("zombies", "\(ProcessTable.zombies(of: daemon.pid).count)", "0", ProcessTable.zombies(of: daemon.pid).isEmpty))
        if let after {
            let now = after.merging(["supervisor": daemon.pid]) { $1 }
            // Connections of the last moments of the chaos finish their handshakes or deadlines.
            let goal = now.reduce(into: [String: (count: Int, pid: Int32)]()) { $0[$1.key] = (baseFDs[$1.key] ?? 0, $1.value) }
            let off = FDCounts.waitForBaseline(goal, timeout: 20)
            for role in now.keys.sorted() {
                let b = baseFDs[role] ?? 0, n = off[role]?.1 ?? b
                if abs(n - b) > 3 {
                    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(now[role]!)/fd")) ?? []
                    let targets = fds.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(now[role]!)/fd/\($0)") }
                    print("\(role) descriptors: \(targets.sorted().joined(separator: " "))")
                    let ss = Process()
                    ss.executableURL = URL(fileURLWithPath: "/bin/sh")
                    ss.arguments = ["-c", "ss -anpe | grep 'pid=\(now[role]!),' | head -40"]
                    try? ss.run()
                    ss.waitUntilExit()
                }
                checks.append(("fds \(role)", "\(n) (baseline \(b))", "±3", abs(n - b) <= 3))
            }
            for role in now.keys.sorted() {
                let b = baseRSS[role] ?? 0, n = ControlSocketAbuseTests.rssKiB(now[role]!)
                // Every role, the peer manager too: a peer that floods Pings is no longer read
                // while its Pongs wait (fault 2), so its output is bounded like the rest.
                let limit = 64 * 1024
                checks.append(("RSS \(role)", "\(n / 1024) MiB (baseline \(b / 1024))", "+\(limit / 1024) MiB", n - b <= limit))
            }
        }
        let status = try? daemon.control(["status"], timeout: 15)
        checks.append(("status answers", status?.status == 0 ? "yes" : "no", "yes", status?.status == 0))
        // Every drop accounted for: per node id, adds - drops is 0, or 1 for a peer still live.
        sleep(2)
        let lines = events.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        var balance: [String: Int] = [:]
        for e in lines {
            guard let id = e["id"] as? String else { continue }
            if e["event"] as? String == "peer-added" { balance[id, default: 0] += 1 }
            if e["event"] as? String == "peer-dropped" { balance[id, default: 0] -= 1 }
        }
        let liveIDs = Set(liveKeys.map { NodeID(publicKey: $0.publicKey).hex })
        let unbalanced = balance.filter { id, b in b != 0 && !(b == 1 && liveIDs.contains(id)) }
        checks.append(("drops accounted (events)", "\(balance.count) peers, \(unbalanced.count) off", "0 off", unbalanced.isEmpty))

        var table = "\nchaos suite: \(Int(seconds)) s on 127.0.0.1, \(live.count) live peers\n"
        table += "activity: " + tally.snapshot.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        table += Self.pad("check", 28) + Self.pad("value", 30) + Self.pad("limit", 12) + "result\n"
        for (name, value, limit, ok) in checks { table += Self.pad(name, 28) + Self.pad(value, 30) + Self.pad(limit, 12) + (ok ? "ok" : "FAIL") + "\n" }
        print(table)
        if let out = ProcessInfo.processInfo.environment["STOCKADE_CHAOS_TABLE"] { try? table.write(toFile: out, atomically: true, encoding: .utf8) }
        for (name, value, limit, ok) in checks where !ok { XCTFail("\(name): \(value), limit \(limit)") }
        XCTAssertGreaterThan(tally.snapshot["handshakes ok"] ?? 0, 0, "no handshake succeeded during the chaos")
        XCTAssertGreaterThan(tally.snapshot["status ok"] ?? 0, 0, "no status answered during the chaos")
        XCTAssertGreaterThan(tally.snapshot["scrapes ok"] ?? 0, 0, "no scrape answered during the chaos")
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
}

final class ChaosTally: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    func add(_ what: String) { lock.withLock { counts[what, default: 0] += 1 } }
    var snapshot: [String: Int] { lock.withLock { counts } }
}

/// Hands non-Sendable test objects to an actor thread that is their only user meanwhile.
final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
