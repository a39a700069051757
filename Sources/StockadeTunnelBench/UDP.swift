#if canImport(Glibc)
import Glibc
#endif

/// `udp-rtt`, `udp-rate` and `udp-flood`: numbered datagrams to the source's UDP echo (or its
/// non-reading sink), through a route; replies matched by number on the monotonic clock.
enum UDPBench {
    /// Datagrams sent before measuring, until one is answered: a tunnel's first datagram opens
    /// its session (and waits for the exit), which is no round trip of the steady state.
    static let warmUps = 3
    /// Numbers of warm-up datagrams: far from the measured ones (0, 1, …), so a late warm-up
    /// reply is never taken for a measured one.
    static let warmUpBase: UInt64 = 1 << 62
    /// After this many probes lost in a row the rest are not sent (a dead tunnel would
    /// otherwise cost count × timeout); they count as lost.
    static let maxLostInARow = 20

    /// Warms `d` up; says whether any warm-up datagram was answered.
    @discardableResult
    static func warmUp(_ d: Datagrams, timeoutMilliseconds: Int) -> Bool {
        for i in 0..<UInt64(warmUps) {
            _ = d.send(warmUpBase + i)
            let deadline = monotonicNanos() + UInt64(timeoutMilliseconds) * 1_000_000
            while let left = remainingMilliseconds(until: deadline), left > 0 {
                if let n = d.receive(timeoutMilliseconds: left), n >= warmUpBase { return true }
            }
        }
        return false
    }

    static func remainingMilliseconds(until deadline: UInt64) -> Int? {
        let now = monotonicNanos()
        return now >= deadline ? nil : Int((deadline - now + 999_999) / 1_000_000)
    }

    /// One probe at a time: send number `seq`, wait (at most the timeout) for its echo. The
    /// round trip in ms, or nil when it was lost (replies to other numbers are passed over).
    static func probe(_ d: Datagrams, _ seq: UInt64, timeoutMilliseconds: Int) -> Double? {
        let t0 = monotonicNanos()
        guard d.send(seq) else { return nil }
        let deadline = t0 + UInt64(timeoutMilliseconds) * 1_000_000
        while let left = remainingMilliseconds(until: deadline) {
            if d.receive(timeoutMilliseconds: left) == seq { return Double(monotonicNanos() - t0) / 1e6 }
        }
        return nil
    }

    /// Probes 1 ms apart until `count` were sent or `stop` says so; round trips and losses.
    static func probes(_ d: Datagrams, count: Int, timeoutMilliseconds: Int, stop: () -> Bool = { false }) -> (ms: [Double], lost: Int) {
        var samples: [Double] = [], lost = 0, inARow = 0
        for seq in 0..<count where !stop() {
            if inARow >= maxLostInARow { lost += 1; continue }
            if let ms = probe(d, UInt64(seq), timeoutMilliseconds: timeoutMilliseconds) {
                samples.append(ms)
                inARow = 0
            } else {
                lost += 1
                inARow += 1
            }
            usleep(1000)
        }
        return (samples, lost)
    }

    /// `udp-rtt`: `count` echo round trips, one outstanding; p50/p99 and losses.
    static func rtt(route: Route, count: Int, size: Int, timeoutMilliseconds: Int) -> Line {
        var fields: [(String, String)] = [("route", route.udpDescription), ("size", "\(size)"), ("count", "\(count)")]
        do {
            let d = try route.openDatagrams(size: size, timeoutMilliseconds: timeoutMilliseconds)
            defer { d.close() }
            fields.append(("warm", warmUp(d, timeoutMilliseconds: timeoutMilliseconds) ? "1" : "0"))
            let (ms, lost) = probes(d, count: count, timeoutMilliseconds: timeoutMilliseconds)
            return Line("udp-rtt", fields + Latency.summary(ms, failed: lost))
        } catch {
            report(note: "udp-rtt: \(error)")
            return Line("udp-rtt", fields + [("error", "1")] + Latency.summary([], failed: count))
        }
    }

    /// `udp-rate`: for `seconds`, at most `window` datagrams outstanding (a reply or a timeout
    /// frees a slot); echoed datagrams per second, loss, and the round trips under that load.
    static func rate(route: Route, window: Int, seconds: Int, size: Int, timeoutMilliseconds: Int) -> Line {
        var fields: [(String, String)] = [("route", route.udpDescription), ("size", "\(size)"), ("window", "\(window)")]
        let d: Datagrams
        do { d = try route.openDatagrams(size: size, timeoutMilliseconds: timeoutMilliseconds) } catch {
            report(note: "udp-rate: \(error)")
            return Line("udp-rate", fields + [("error", "1"), ("dps", "0"), ("loss_pct", "100")])
        }
        defer { d.close() }
        fields.append(("warm", warmUp(d, timeoutMilliseconds: timeoutMilliseconds) ? "1" : "0"))
        let timeout = UInt64(timeoutMilliseconds) * 1_000_000
        var sentAt: [UInt64: UInt64] = [:]   // outstanding: number -> send time
        var order: [UInt64] = [], head = 0   // numbers in send order, for the timeouts
        var next: UInt64 = 0, sent = 0, refused = 0, echoed = 0, echoedInTime = 0, lost = 0
        var ms: [Double] = []
        let start = monotonicNanos(), end = start + UInt64(seconds) * 1_000_000_000
        // Sending stops at `end`; replies are awaited one timeout more (then the rest are lost).
        while true {
            let now = monotonicNanos()
            if now < end {
                while sentAt.count < window {
                    if d.send(next) { sentAt[next] = monotonicNanos(); order.append(next); sent += 1 } else { refused += 1 }
                    next += 1
                    if refused > 0 && sentAt.isEmpty { usleep(100); break }   // a refusing socket: do not spin
                }
            }
            while head < order.count {
                guard let at = sentAt[order[head]] else { head += 1; continue }
                guard at + timeout < now else { break }
                sentAt[order[head]] = nil
                lost += 1
                head += 1
            }
            if head > 65_536 { order.removeFirst(head); head = 0 }
            if now >= end && sentAt.isEmpty { break }
            if now >= end + timeout { lost += sentAt.count; break }
            guard let seq = d.receive(timeoutMilliseconds: 10), let at = sentAt.removeValue(forKey: seq) else { continue }
            let t = monotonicNanos()
            ms.append(Double(t - at) / 1e6)
            echoed += 1
            if t <= end { echoedInTime += 1 }
        }
        let summary = Latency.summary(ms, failed: lost).filter { $0.0.hasSuffix("_ms") }
        return Line("udp-rate", fields + [
            ("seconds", "\(seconds)"), ("sent", "\(sent)"), ("refused", "\(refused)"), ("echoed", "\(echoed)"), ("lost", "\(lost)"),
            ("dps", fmt(Double(echoedInTime) / Double(seconds), 0)),
            ("loss_pct", fmt(sent > 0 ? 100 * Double(lost) / Double(sent) : 100, 3)),
        ] + summary)
    }

    /// `udp-flood`: one session sends as fast as it can for `seconds` to the route's target,
    /// while a second thread counts that session's echoes (none from a sink); beside it, with
    /// `probe`, another session's echo probes (one outstanding, 1 ms apart): do they suffer?
    static func flood(route: Route, probe: Route?, seconds: Int, size: Int, timeoutMilliseconds: Int) -> Line {
        var fields: [(String, String)] = [("route", route.udpDescription), ("size", "\(size)"), ("seconds", "\(seconds)")]
        let d: Datagrams, p: Datagrams?
        do {
            d = try route.openDatagrams(size: size, timeoutMilliseconds: timeoutMilliseconds)
            p = try probe?.openDatagrams(size: size, timeoutMilliseconds: timeoutMilliseconds)
        } catch {
            report(note: "udp-flood: \(error)")
            return Line("udp-flood", fields + [("error", "1"), ("sent", "0"), ("echoed", "0"), ("loss_pct", "100")])
        }
        defer { d.close(); p?.close() }
        // The flood's session is opened by one datagram (a sink never answers: no warm-up wait).
        _ = d.send(warmUpBase)
        usleep(200_000)
        if let p { fields.append(("probe_warm", warmUp(p, timeoutMilliseconds: timeoutMilliseconds) ? "1" : "0")) }

        // The threads' counts, in Tally's byte counter (datagrams here).
        let sent = Tally(), refused = Tally(), echoed = Tally()
        let start = monotonicNanos(), end = start + UInt64(seconds) * 1_000_000_000
        let sender = startThread {
            var seq: UInt64 = 0, ok = 0, no = 0
            while monotonicNanos() < end {
                for _ in 0..<64 {   // the clock read once per 64 datagrams
                    if d.send(seq) { ok += 1 } else { no += 1 }
                    seq += 1
                }
            }
            sent.add(bytes: ok)
            refused.add(bytes: no)
        }
        let receiver = startThread {
            var got = 0
            // Echoes still queued in the tunnel when the sender stops get one timeout to arrive.
            let last = end + UInt64(timeoutMilliseconds) * 1_000_000
            while monotonicNanos() < last {
                if let n = d.receive(timeoutMilliseconds: 50), n < warmUpBase { got += 1 }
            }
            echoed.add(bytes: got)
        }
        var probeFields: [(String, String)] = []
        if let p {
            let (ms, lost) = probes(p, count: seconds * 1000, timeoutMilliseconds: timeoutMilliseconds) { monotonicNanos() >= end }
            probeFields = Latency.summary(ms, failed: lost).map { ("probe_" + $0.0, $0.1) }
        }
        pthread_join(sender, nil)
        pthread_join(receiver, nil)
        let out = sent.bytes
        return Line("udp-flood", fields + [
            ("sent", "\(out)"), ("refused", "\(refused.bytes)"), ("sent_per_s", fmt(Double(out) / Double(seconds), 0)),
            ("echoed", "\(echoed.bytes)"), ("echoed_per_s", fmt(Double(echoed.bytes) / Double(seconds), 0)),
            ("loss_pct", fmt(out > 0 ? 100 * (1 - Double(echoed.bytes) / Double(out)) : 100, 3)),
        ] + probeFields)
    }
}
