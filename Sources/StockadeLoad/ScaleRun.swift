#if canImport(Glibc)
import Glibc
#endif

/// Mode `scale`: the peer manager holding 1,000 / 5,000 / 10,000 idle peers (issue 10). The
/// peers are held by `holders` child processes (`StockadeLoad hold`), each from its own source
/// address 127.0.0.2, .3, …, each with its own descriptor limit. At each size, in order:
///
/// 1. the holders grow to the size (the probe peers of step 3 come on top and go again);
/// 2. after a settle pause, an idle window: the peer manager's CPU (its only load is the
///    daemon's own Pings every ping interval and their Pongs) and its RSS at the end;
/// 3. `probe` fresh peers pinged round-robin at `pingRate` from a few threads: p50/p99;
/// 4. `stockade peers --json` and `stockade status` timed (wall, process start included), the
///    listing's entries counted;
/// 5. a dial flood (connect, Hello, Ping, Disconnect) beside the held peers: the peer
///    manager's CPU per new connection at this size, and the acceptor's and the workers' in the
///    same window (the boundary's share of a handshake).
///
/// One `scale size=… …` line per size on stdout.
func measureScale(_ o: Options) throws(LoadError) {
    guard let stockade = o.stockadeBinary, let socket = o.controlSocket else {
        throw .usage("scale needs --stockade PATH and --control-socket PATH")
    }
    let me = String(cString: realpath("/proc/self/exe", nil))
    note("scale: sizes \(o.sizes.map(String.init).joined(separator: ",")), \(o.holders) holder processes from 127.0.0.2-\(o.holders + 1)")
    var holders: [SpawnedProcess] = []
    defer { for h in holders { h.stop(timeout: .seconds(10)) } }
    for i in 0..<o.holders {
        holders.append(try SpawnedProcess(path: me, arguments: [
            "hold", "--enode", o.target.description, "--source", "127.0.0.\(i + 2)", "--lifetime", "\(Int(o.lifetimeSeconds))",
        ], piped: true))
    }
    let window = Duration.milliseconds(Int64(o.windowSeconds * 1000))
    for size in o.sizes {
        // 1. grow
        let held = max(0, size - o.peers)
        let started = ContinuousClock.now
        for (i, h) in holders.enumerated() { h.send("grow \(held / o.holders + (i < held % o.holders ? 1 : 0))") }
        var total = 0, failed = 0, dropped = 0
        for h in holders {
            guard let line = h.readLine(timeout: .seconds(60 + Int64(size / 20))) else { throw .setup("a holder did not answer growing to \(size)") }
            let f = keyValues(line)
            total += f["n"] ?? 0; failed += f["failed"] ?? 0; dropped += f["dropped"] ?? 0
        }
        let fillSeconds = Duration.seconds(ContinuousClock.now - started)
        note("scale: \(total) peers held (\(failed) failed, \(dropped) dropped) in \(format(fillSeconds, 1)) s")
        sleep(until: ContinuousClock.now + .milliseconds(Int64(o.warmupSeconds * 1000)))

        // 2. idle
        let before = CPUSnapshot.take(supervisor: o.supervisor)
        sleep(until: before.wall + .milliseconds(Int64(o.idleSeconds * 1000)))
        let after = CPUSnapshot.take(supervisor: o.supervisor)
        let idle = CPUDelta(from: before, to: after)
        let rss = after.processes.pids["peer-manager"].flatMap(residentKilobytes) ?? 0

        // 3. pings
        let probe = try PingProbe.connect(to: o.target, peers: o.peers, threads: o.pingThreads)
        let (rtts, pingFailures) = probe.window(until: ContinuousClock.now + window, rate: o.pingRate)
        probe.close()
        for f in Set(pingFailures) { note("ping failure: \(f)") }
        let p = Percentiles(rtts)

        // 4. listings (medians of three)
        let control = ["--control-socket", socket]
        var listSeconds: [Double] = [], statusSeconds: [Double] = [], listed = 0
        for _ in 0..<3 {
            let list = try SpawnedProcess.timedRun(path: stockade, arguments: ["peers", "--json"] + control, timeout: .seconds(60))
            listSeconds.append(list.seconds)
            listed = countOccurrences(of: Array("\"id\" :".utf8), in: list.stdout)
            statusSeconds.append(try SpawnedProcess.timedRun(path: stockade, arguments: ["status"] + control, timeout: .seconds(30)).seconds)
        }

        // 5. new connections beside the held peers
        let flood = HandshakeFlood(target: o.target)
        let threads = flood.start(threads: o.floodThreads)
        sleep(until: ContinuousClock.now + .milliseconds(Int64(o.warmupSeconds * 1000)))
        let churnBefore = CPUSnapshot.take(supervisor: o.supervisor)
        let completedBefore = flood.completed
        sleep(until: churnBefore.wall + window)
        let churnAfter = CPUSnapshot.take(supervisor: o.supervisor)
        let completed = flood.completed - completedBefore
        flood.finish(threads)
        reportFailures(flood.failures, what: "flood")
        let churn = CPUDelta(from: churnBefore, to: churnAfter)
        let perConnection = completed > 0 ? (churn.byRole["peer-manager"] ?? 0) * 1e6 / Double(completed) : 0

        let ms = { (q: Double) in p.value(q).map { format($0, 4) } ?? "-" }
        emit("scale", [("size", "\(size)"), ("held", "\(total)"), ("hold_failed", "\(failed)"), ("fill_s", format(fillSeconds, 2)),
                       ("rss_kb", "\(rss)"), ("idle_pm_pct", format(100 * (idle.byRole["peer-manager"] ?? 0) / idle.wallSeconds, 3)),
                       ("idle_sup_pct", format(100 * (idle.byRole["supervisor"] ?? 0) / idle.wallSeconds, 3)),
                       ("pings", "\(rtts.count)"), ("ping_failed", "\(pingFailures.count)"), ("p50_ms", ms(50)), ("p99_ms", ms(99)),
                       ("listed", "\(listed)"), ("list_ms", format(1000 * Percentiles(listSeconds).value(50)!, 1)),
                       ("status_ms", format(1000 * Percentiles(statusSeconds).value(50)!, 1)),
                       ("churn_completed", "\(completed)"), ("pm_us_per_conn", format(perConnection, 1)),
                       ("churn_pm_cpu", format(churn.byRole["peer-manager"] ?? 0, 6)),
                       // The process boundary's share at this size: (peer manager + acceptor) / workers.
                       ("churn_acceptor_cpu", format(churn.byRole["acceptor"] ?? 0, 6)),
                       ("churn_workers_cpu", format(churn.workers, 6))],
             cpu: idle)
    }
}

/// Mode `hold`: see PeerHolder.
func holdPeers(_ o: Options) {
    guard let source = o.source else { writeLine(2, "StockadeLoad: hold needs --source"); exit(2) }
    PeerHolder(target: o.target, source: source, lifetime: .seconds(Int64(o.lifetimeSeconds))).run()
}

/// `k=v` integer fields of a line.
func keyValues(_ line: String) -> [String: Int] {
    var out: [String: Int] = [:]
    for word in line.split(separator: " ") {
        let kv = word.split(separator: "=", maxSplits: 1)
        if kv.count == 2, let v = Int(kv[1]) { out[String(kv[0])] = v }
    }
    return out
}

func countOccurrences(of needle: [UInt8], in haystack: [UInt8]) -> Int {
    guard !needle.isEmpty, haystack.count >= needle.count else { return 0 }
    var count = 0, i = 0
    while i <= haystack.count - needle.count {
        if haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle) { count += 1; i += needle.count } else { i += 1 }
    }
    return count
}

/// VmRSS of a process in kB (proc(5)).
func residentKilobytes(_ pid: Int32) -> Int? {
    guard let status = DaemonProcesses.readProcFile("/proc/\(pid)/status") else { return nil }
    let text = String(decoding: status, as: UTF8.self)
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return nil }
    return Int(line.split(separator: " ").dropFirst().first ?? "")
}
