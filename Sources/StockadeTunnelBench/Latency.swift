#if canImport(Glibc)
import Glibc
#endif

/// `latency` and `eof`: fresh sessions one after another, each timed on the monotonic clock.
enum Latency {
    enum Neighbour: String { case none = "idle", stalled, bulk }

    /// After this many failed probes the rest are not tried (a tunnel that fails every session
    /// would otherwise take count × timeout); they count as failed.
    static let maxFailures = 5
    /// The neighbour's head start: long enough for a stalled session to fill every buffer on its
    /// way, or for a bulk download to reach full speed.
    static let neighbourLeadMilliseconds: UInt32 = 500
    /// How much a neighbour asks for: more than it can move in any run.
    static let neighbourBytes: UInt64 = 1 << 40

    /// Connect (with the SOCKS5 handshake on that route) + first byte of `count` fresh sessions.
    static func connectFirstByte(route: Route, count: Int, neighbour: Neighbour, timeoutMilliseconds: Int) -> Line {
        var stalled: Stream? = nil
        var bulk: (thread: pthread_t, stop: Flag, moved: Tally)? = nil
        switch neighbour {
        case .none: break
        case .stalled:
            // Asks for an endless download and never reads: its data piles up in the tunnel.
            do {
                let s = try route.open(timeoutMilliseconds: timeoutMilliseconds)
                try s.write([Command.data.rawValue] + bigEndianBytes(neighbourBytes))
                stalled = s
            } catch {
                report(note: "latency: the stalled neighbour did not open: \(error)")
            }
        case .bulk:
            let stop = Flag(), moved = Tally()
            let t = startThread(stackBytes: 1 << 20) {
                do {
                    let s = try route.open(timeoutMilliseconds: timeoutMilliseconds)
                    try s.write([Command.data.rawValue] + bigEndianBytes(neighbourBytes))
                    _ = try Throughput.drain(s, upTo: Int(neighbourBytes), stop: stop, progress: moved)
                } catch {
                    if !stop.isRaised { moved.fail("\(error)") }
                }
            }
            bulk = (t, stop, moved)
        }
        if neighbour != .none { usleep(neighbourLeadMilliseconds * 1000) }

        let bulkStart = monotonicNanos(), bulkBytesBefore = bulk?.moved.bytes ?? 0
        var samples: [Double] = [], failures: [String] = []
        for _ in 0..<count where failures.count < maxFailures {
            let t0 = monotonicNanos()
            do {
                let s = try route.open(timeoutMilliseconds: timeoutMilliseconds)
                try s.write([Command.firstByte.rawValue])
                _ = try s.readExactly(1)
                samples.append(Double(monotonicNanos() - t0) / 1e6)
                s.close()
            } catch {
                failures.append("\(error)")
            }
            usleep(1000)
        }
        var fields: [(String, String)] = [("route", "\(route)"), ("neighbour", neighbour.rawValue)]
        if let b = bulk {
            // The neighbour's own rate while the probes ran: it must really have been busy.
            let rate = Double(b.moved.bytes - bulkBytesBefore) / secondsSince(bulkStart) / 1e6
            b.stop.raise()
            pthread_join(b.thread, nil)
            fields.append(("neighbour_MBps", fmt(rate, 0)))
            for e in b.moved.errors { report(note: "latency: bulk neighbour: \(e)") }
        }
        stalled?.close()
        for e in Set(failures) { report(note: "latency: \(e)") }
        return Line("latency", fields + [("count", "\(count)")] + summary(samples, failed: count - samples.count))
    }

    /// Time from the source writing its last bytes and FIN to this client reading EOF.
    static func eof(route: Route, count: Int, timeoutMilliseconds: Int) -> Line {
        var samples: [Double] = [], failures: [String] = []
        for _ in 0..<count where failures.count < maxFailures {
            do {
                let s = try route.open(timeoutMilliseconds: timeoutMilliseconds)
                try s.write([Command.eofAfterTrigger.rawValue, 0x01])
                let sentAt = bigEndianValue(try s.readExactly(8))
                var one = [UInt8](repeating: 0, count: 1)
                let n = try one.withUnsafeMutableBytes { try s.read(into: $0, max: 1) }
                guard n == 0 else { throw BenchError("data after the last byte") }
                samples.append(Double(monotonicNanos() - sentAt) / 1e6)
                s.close()
            } catch {
                failures.append("\(error)")
            }
            usleep(1000)
        }
        for e in Set(failures) { report(note: "eof: \(e)") }
        return Line("eof", [("route", "\(route)"), ("count", "\(count)")] + summary(samples, failed: count - samples.count))
    }

    /// p50, p99 and max in milliseconds (nearest rank: each figure is an observed value).
    static func summary(_ ms: [Double], failed: Int) -> [(String, String)] {
        let sorted = ms.sorted()
        func rank(_ p: Double) -> String {
            guard !sorted.isEmpty else { return "-" }
            let i = Int((p * Double(sorted.count)).rounded(.up)) - 1
            return fmt(sorted[max(0, min(sorted.count - 1, i))], 3)
        }
        return [("ok", "\(sorted.count)"), ("failed", "\(failed)"),
                ("p50_ms", rank(0.50)), ("p99_ms", rank(0.99)), ("max_ms", rank(1.0))]
    }
}
