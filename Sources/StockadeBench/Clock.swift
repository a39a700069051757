#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The two clocks the benchmarks read: wall time for throughput (what a peer link sees) and
/// this process's CPU time for handshake cost (insensitive to the other tenants of a shared
/// machine stealing the core).
enum Clock {
    enum Kind: Sendable {
        case wall, cpu

        func seconds() -> Double { self == .cpu ? Clock.cpuSeconds() : Clock.wallSeconds() }
        var name: String { self == .cpu ? "CPU time" : "wall time" }
    }

    static func wallSeconds() -> Double { read(CLOCK_MONOTONIC) }
    static func cpuSeconds() -> Double { read(CLOCK_PROCESS_CPUTIME_ID) }

    private static func read(_ id: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(id, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// Keeps the optimiser from deleting work whose result is otherwise unused: the bytes feed a
/// global the compiler must assume someone reads.
@inline(never)
func blackHole(_ bytes: [UInt8]) {
    sink ^= bytes.first ?? 0
}
nonisolated(unsafe) private var sink: UInt8 = 0
