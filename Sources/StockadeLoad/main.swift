#if canImport(Glibc)
import Glibc
#endif

/// StockadeLoad: the load generator of ops/bench/daemon.sh. It loads a running `stockade run`
/// on 127.0.0.1 and reads the CPU time of the daemon's processes around each measurement
/// window, printing one `name key=value…` line per window on stdout (progress and failure
/// texts go to stderr, as `# …` lines). See Options.usageText.
///
///     handshakes   per run: the CPU-time yardsticks of CryptoReference, then a dial flood
///                  (dial, Hello, one Ping, Disconnect; fresh key each time): warm-up, window.
///     pings        N live peers pinged round-robin from a few threads: per run one idle
///                  window, then one window while a dial flood loads the workers.

let options: Options
do { options = try Options(Array(CommandLine.arguments.dropFirst())) } catch {
    writeLine(2, "StockadeLoad: \(error)")
    exit(2)
}

/// One measurement line: `name k=v …` with the CPU seconds of each daemon role in the window.
func emit(_ name: String, _ fields: [(String, String)], cpu: CPUDelta) {
    var all = fields
    all.append(("seconds", format(cpu.wallSeconds, 4)))
    all.append(("workers", "\(cpu.byRole.keys.filter { $0.hasPrefix("worker[") }.count)"))
    all.append(("cpu_workers", format(cpu.workers, 6)))
    for role in ["acceptor", "peer-manager", "supervisor"] {
        all.append(("cpu_" + role.replacingOccurrences(of: "-", with: "_"), cpu.byRole[role].map { format($0, 6) } ?? "-"))
    }
    all.append(("cpu_client", format(cpu.client, 6)))
    all.append(("restarted", cpu.restarted.isEmpty ? "none" : cpu.restarted.joined(separator: ",")))
    writeLine(1, ([name] + all.map { "\($0.0)=\($0.1)" }).joined(separator: " "))
}

func format(_ v: Double, _ decimals: Int) -> String {
    let scale = (0..<decimals).reduce(1.0) { r, _ in r * 10 }
    let whole = (v * scale).rounded() / scale
    return "\(whole)"
}

/// One line straight to a descriptor, unbuffered: the driving script sees each as it happens
/// (and Swift 6 forbids touching C's global FILE pointers from nonisolated code).
func writeLine(_ fd: Int32, _ text: String) {
    let bytes = Array((text + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
        offset += n
    }
}

func note(_ text: String) {
    writeLine(2, "# \(text)")
}

func reportFailures(_ failures: [String: Int], what: String) {
    for (reason, count) in failures.sorted(by: { $0.value > $1.value }) {
        note("\(what) failure x\(count): \(reason)")
    }
}

/// Mode handshakes: per run, the reference yardsticks (daemon idle), then a flood: warm-up,
/// one measured window, stop. Restarting the flood per run costs a warm-up each time but lets
/// every window carry a reference taken moments before it.
func measureHandshakes(_ o: Options) {
    note("handshakes: \(o.runs) runs of a \(o.referenceSeconds) s reference, then \(o.floodThreads) dialing threads: warm-up \(o.warmupSeconds) s, window \(o.windowSeconds) s")
    var failures: [String: Int] = [:]
    for run in 1...o.runs {
        let reference = CryptoReference.measure(seconds: o.referenceSeconds)
        let flood = HandshakeFlood(target: o.target)
        let threads = flood.start(threads: o.floodThreads)
        sleep(until: ContinuousClock.now + .milliseconds(Int64(o.warmupSeconds * 1000)))
        let before = CPUSnapshot.take(supervisor: o.supervisor)
        let completedBefore = flood.completed, failedBefore = flood.failed
        sleep(until: before.wall + .milliseconds(Int64(o.windowSeconds * 1000)))
        let after = CPUSnapshot.take(supervisor: o.supervisor)
        let completed = flood.completed - completedBefore, failed = flood.failed - failedBefore
        flood.finish(threads)
        failures.merge(flood.failures) { $0 + $1 }
        emit("handshakes", [("run", "\(run)"), ("completed", "\(completed)"), ("failed", "\(failed)"),
                            ("ref_secp_us", format(reference.secp256k1Microseconds, 2)),
                            ("ref_setup_us", format(reference.setupMicroseconds, 2)),
                            ("ref_rounds", "\(reference.rounds)")],
             cpu: CPUDelta(from: before, to: after))
    }
    reportFailures(failures, what: "handshake")
}

/// Mode pings: the probe peers, then per run an idle window and a loaded window.
func measurePings(_ o: Options) throws(LoadError) {
    note("pings: \(o.pingRate) per second over \(o.peers) peers from \(o.pingThreads) threads; flood of \(o.floodThreads) threads at nice +\(o.floodNice); \(o.runs) runs of an idle and a loaded \(o.windowSeconds) s window")
    note("connecting \(o.peers) probe peers from \(o.pingThreads) threads")
    let probe = try PingProbe.connect(to: o.target, peers: o.peers, threads: o.pingThreads)
    defer { probe.close() }
    let window = Duration.milliseconds(Int64(o.windowSeconds * 1000))
    var floodFailures: [String: Int] = [:]
    for run in 1...o.runs {
        for loaded in [false, true] {
            var flood: HandshakeFlood? = nil
            var threads: [LoadThread] = []
            if loaded {
                let f = HandshakeFlood(target: o.target)
                threads = f.start(threads: o.floodThreads, nice: o.floodNice)
                flood = f
                sleep(until: ContinuousClock.now + .milliseconds(Int64(o.warmupSeconds * 1000)))
            }
            let floodBefore = flood?.completed ?? 0
            let before = CPUSnapshot.take(supervisor: o.supervisor)
            let (rtts, failures) = probe.window(until: before.wall + window, rate: o.pingRate)
            let after = CPUSnapshot.take(supervisor: o.supervisor)
            let floodCompleted = (flood?.completed ?? 0) - floodBefore
            if let flood {
                flood.finish(threads)
                floodFailures.merge(flood.failures) { $0 + $1 }
            }
            let p = Percentiles(rtts)
            let ms = { (q: Double) in p.value(q).map { format($0, 4) } ?? "-" }
            emit("pings", [("run", "\(run)"), ("state", loaded ? "loaded" : "idle"), ("pings", "\(rtts.count)"),
                           ("failed", "\(failures.count)"), ("live", "\(probe.liveCount)"),
                           ("p50_ms", ms(50)), ("p99_ms", ms(99)), ("max_ms", ms(100)),
                           ("flood_completed", "\(floodCompleted)")],
                 cpu: CPUDelta(from: before, to: after))
            for f in Set(failures) { note("ping failure: \(f)") }
        }
    }
    reportFailures(floodFailures, what: "flood")
}

do {
    switch options.mode {
    case .handshakes: measureHandshakes(options)
    case .pings: try measurePings(options)
    case .scale: try measureScale(options)
    case .hold: holdPeers(options)
    case .adoptCost: try measureAdoptCost(runs: options.runs, batch: options.peers)
    }
} catch {
    writeLine(2, "StockadeLoad: \(error)")
    exit(1)
}
