#if canImport(Glibc)
import Glibc
#endif

/// `throughput`: N concurrent sessions, each downloading B bytes from the source.
enum Throughput {
    static func run(route: Route, streams: Int, bytes: Int, compressible: Bool, timeoutMilliseconds: Int) -> Line {
        let tally = Tally()
        let command: Command = compressible ? .text : .data
        let start = monotonicNanos()
        let threads = (0..<streams).map { _ in
            startThread(stackBytes: 1 << 20) {
                do {
                    let s = try route.open(timeoutMilliseconds: timeoutMilliseconds)
                    try s.write([command.rawValue] + bigEndianBytes(UInt64(bytes)))
                    let got = try drain(s, upTo: bytes)
                    tally.add(bytes: got)
                    if got != bytes { tally.fail("stream ended after \(got) of \(bytes) bytes") }
                } catch {
                    tally.fail("\(error)")
                }
            }
        }
        for t in threads { pthread_join(t, nil) }
        let seconds = secondsSince(start)
        let errors = tally.errors
        for e in Set(errors) { report(note: "throughput: \(e)") }
        return Line("throughput", [
            ("route", "\(route)"), ("streams", "\(streams)"), ("bytes_per_stream", "\(bytes)"),
            ("payload", compressible ? "compressible" : "incompressible"), ("total_bytes", "\(tally.bytes)"),
            ("seconds", fmt(seconds, 3)), ("MBps", fmt(Double(tally.bytes) / seconds / 1e6, 1)), ("failed", "\(errors.count)"),
        ])
    }

    /// Reads until EOF, `limit` bytes or `stop`; returns the count. With `progress`, each read's
    /// bytes are added to it as they arrive (a neighbour's rate is read while it runs).
    static func drain(_ s: Stream, upTo limit: Int, stop: Flag? = nil, progress: Tally? = nil) throws -> Int {
        var total = 0
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer { buf.deallocate() }
        while total < limit, !(stop?.isRaised ?? false) {
            let n = try s.read(into: buf, max: buf.count)
            if n == 0 { break }
            total += n
            progress?.add(bytes: n)
        }
        return total
    }
}
