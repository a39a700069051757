import Enode
import Sockets

/// The command line: a mode, the daemon to load, and bounded knobs. Every count and duration
/// has a range, so a typo cannot start an unbounded run.
struct Options: Sendable {
    enum Mode: String, Sendable { case handshakes, pings, scale, hold, adoptCost = "adopt-cost" }

    var mode: Mode
    var target: EnodeURL
    var supervisor: Int32
    /// Dialing threads of the handshake flood (both modes).
    var floodThreads = 8
    /// Nice increment for the flood threads (pings mode), so that the probe's own threads are
    /// not the ones starved by the client's load.
    var floodNice: Int32 = 0
    var peers = 100
    var pingThreads = 4
    /// Pings per second over all probe peers: each of 100 peers pinged every 100 ms, a load the
    /// peer manager carries in a few percent of a core, so the idle figure is idle.
    var pingRate = 1000.0
    /// Seconds of CryptoReference before each handshake window: some 50 rounds, enough for a
    /// median that ignores the rounds a busy machine disturbed.
    var referenceSeconds = 1.0
    var warmupSeconds = 2.0
    var windowSeconds = 4.0
    var runs = 5
    /// Scale mode: the numbers of peers held, in order.
    var sizes = [1_000, 5_000, 10_000]
    /// Scale mode: processes holding the peers, each from its own 127.0.0.x.
    var holders = 4
    /// Scale mode: the idle window (a multiple of the daemon's 15 s ping interval sees every
    /// peer's Ping the same number of times).
    var idleSeconds = 15.0
    /// Scale mode: the daemon's control socket and the `stockade` binary to time listings.
    var controlSocket: String?
    var stockadeBinary: String?
    /// Hold mode: the source address, and how long the process lives at most.
    var source: SocketAddress?
    var lifetimeSeconds = 1800.0

    /// adopt-cost's placeholder target, never dialed: the node whose key is 1 (its public key
    /// is secp256k1's generator point), at a port nothing uses.
    static let unusedEnode = "enode://79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        + "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8@127.0.0.1:1"

    static let usageText = """
        StockadeLoad handshakes --enode URL --supervisor PID [--threads N] [--reference S] [--warmup S] [--window S] [--runs N]
        StockadeLoad pings --enode URL --supervisor PID [--peers N] [--ping-threads N] [--ping-rate N] [--threads N]
                           [--flood-nice N] [--warmup S] [--window S] [--runs N]
        StockadeLoad scale --enode URL --supervisor PID --stockade PATH --control-socket PATH [--sizes N,N,…]
                           [--holders N] [--peers N (probe)] [--ping-rate N] [--threads N] [--idle S] [--window S]
                           [--warmup S] [--lifetime S]
        StockadeLoad hold --enode URL --source 127.0.0.X [--lifetime S]   (lines on stdin: grow N, status, quit)
        StockadeLoad adopt-cost [--peers N (connections per side and run)] [--runs N]   (no daemon)
        """

    init(_ arguments: [String]) throws(LoadError) {
        guard let first = arguments.first, let mode = Mode(rawValue: first) else { throw .usage(Self.usageText) }
        self.mode = mode
        var target: EnodeURL?
        var supervisor: Int32?
        var i = 1
        func value() throws(LoadError) -> String {
            i += 1
            guard i < arguments.count else { throw .usage("\(arguments[i - 1]) needs a value\n\(Self.usageText)") }
            return arguments[i]
        }
        func int(_ range: ClosedRange<Int>) throws(LoadError) -> Int {
            let name = arguments[i]
            let text = try value()
            guard let n = Int(text), range.contains(n) else { throw .usage("\(name) must be an integer in \(range)") }
            return n
        }
        func seconds(_ range: ClosedRange<Double>) throws(LoadError) -> Double {
            let name = arguments[i]
            let text = try value()
            guard let s = Double(text), range.contains(s) else { throw .usage("\(name) must be seconds in \(range)") }
            return s
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--enode":
                let text = try value()
                do { target = try EnodeURL(parsing: text) } catch { throw .usage("--enode: \(error)") }
                guard let ip = target?.ip, ip.bytes == [127, 0, 0, 1] else {
                    throw .usage("--enode must point at 127.0.0.1 (the benchmark loads only the loopback)")
                }
            case "--supervisor": supervisor = Int32(try int(1...Int(Int32.max)))
            case "--threads": floodThreads = try int(1...256)
            case "--flood-nice": floodNice = Int32(try int(0...19))
            case "--peers": peers = try int(1...1000)
            case "--ping-threads": pingThreads = try int(1...64)
            case "--ping-rate": pingRate = Double(try int(1...100_000))
            case "--reference": referenceSeconds = try seconds(0.1...30)
            case "--warmup": warmupSeconds = try seconds(0...30)
            case "--window": windowSeconds = try seconds(0.5...60)
            case "--runs": runs = try int(1...50)
            case "--sizes":
                let text = try value()
                let parsed = text.split(separator: ",").compactMap { Int($0) }
                guard !parsed.isEmpty, parsed.count == text.split(separator: ",").count, parsed.allSatisfy({ (1...50_000).contains($0) }) else {
                    throw .usage("--sizes must be a comma-separated list of counts in 1...50000")
                }
                sizes = parsed
            case "--holders": holders = try int(1...64)
            case "--idle": idleSeconds = try seconds(1...300)
            case "--lifetime": lifetimeSeconds = try seconds(10...7200)
            case "--control-socket": controlSocket = try value()
            case "--stockade": stockadeBinary = try value()
            case "--source":
                let text = try value()
                guard let a = SocketAddress(ip: text, port: 0), a.ipBytes.count == 4, a.ipBytes[0] == 127 else {
                    throw .usage("--source must be an address in 127.0.0.0/8")
                }
                source = a
            case "-h", "--help": throw .usage(Self.usageText)
            default: throw .usage("unknown argument \(arguments[i])\n\(Self.usageText)")
            }
            i += 1
        }
        // adopt-cost measures no daemon: a placeholder target it never dials.
        if mode == .adoptCost, target == nil { target = try? EnodeURL(parsing: Self.unusedEnode) }
        guard let target, let supervisor = supervisor ?? (mode == .hold || mode == .adoptCost ? 0 : nil) else {
            throw .usage("--enode and --supervisor are required\n\(Self.usageText)")
        }
        self.target = target
        self.supervisor = supervisor
        pingThreads = min(pingThreads, peers)
    }
}
