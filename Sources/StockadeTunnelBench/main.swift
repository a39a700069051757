#if canImport(Glibc)
import Glibc
#endif

/// StockadeTunnelBench: the load tool of ops/bench/tunnel.sh. Plain POSIX sockets and threads,
/// 127.0.0.1 only in practice; every call is bounded by a socket timeout and every loop by a count.
///
///     StockadeTunnelBench source --listen IP:PORT [--udp-sink IP:PORT] [--compressible] [--lifetime S]
///     StockadeTunnelBench throughput --via ROUTE [--target HOST:PORT] --streams N --bytes B [--compressible]
///     StockadeTunnelBench latency --via ROUTE [--target HOST:PORT] --count K [--neighbour stalled|bulk]
///     StockadeTunnelBench eof --via ROUTE [--target HOST:PORT] --count K
///     StockadeTunnelBench idle --via ROUTE [--target HOST:PORT] --sessions N --hold S
///     StockadeTunnelBench udp-rtt --via UROUTE [--target HOST:PORT] --count N [--size B]
///     StockadeTunnelBench udp-rate --via UROUTE [--target HOST:PORT] --window W --seconds S [--size B]
///     StockadeTunnelBench udp-flood --via UROUTE [--target HOST:PORT] [--probe-target HOST:PORT] --seconds S [--size B]
///     StockadeTunnelBench ports N
///
/// ROUTE is `direct`, `socks5://IP:PORT` or `forward://IP:PORT`; UROUTE is `direct`,
/// `socks5udp://IP:PORT` (a UDP ASSOCIATE there) or `udpforward://IP:PORT`. Through SOCKS5 an IP
/// target goes as an address, anything else as a domain name resolved at the far end. The
/// source echoes UDP on its TCP port. The UDP commands' timeout bounds each wait for a reply
/// (a datagram unanswered that long is lost). `udp-flood`'s probes go through the same route
/// to `--probe-target` (with a forward: the forward's target), on a session of their own. Every command
/// prints `name key=value ...` on stdout and a readable row on stderr. Common option:
/// `--timeout-ms MS` (default 5000) bounds each connect, read and write.
let usage = """
    usage: StockadeTunnelBench source --listen IP:PORT [--udp-sink IP:PORT] [--compressible] [--lifetime S]
           StockadeTunnelBench throughput --via ROUTE [--target HOST:PORT] --streams N --bytes B[K|M|G] [--compressible]
           StockadeTunnelBench latency --via ROUTE [--target HOST:PORT] --count K [--neighbour stalled|bulk]
           StockadeTunnelBench eof --via ROUTE [--target HOST:PORT] --count K
           StockadeTunnelBench idle --via ROUTE [--target HOST:PORT] --sessions N --hold S
           StockadeTunnelBench udp-rtt --via UROUTE [--target HOST:PORT] --count N [--size B]
           StockadeTunnelBench udp-rate --via UROUTE [--target HOST:PORT] --window W --seconds S [--size B]
           StockadeTunnelBench udp-flood --via UROUTE [--target HOST:PORT] [--probe-target HOST:PORT] --seconds S [--size B]
           StockadeTunnelBench ports N
      ROUTE: direct | socks5://IP:PORT | forward://IP:PORT; UROUTE: direct | socks5udp://IP:PORT | udpforward://IP:PORT
      every command takes --timeout-ms MS (default 5000); --size: UDP payload bytes (default 1200)
    """

/// `--key value` and `--flag` arguments after the subcommand.
struct Arguments {
    private var values: [String: String] = [:]
    private var flags: Set<String> = []
    static let flagNames: Set<String> = ["--compressible"]

    init(_ args: ArraySlice<String>) throws {
        var it = args.makeIterator()
        while let a = it.next() {
            guard a.hasPrefix("--") else { throw BenchError("unexpected argument \(a)") }
            if Arguments.flagNames.contains(a) { flags.insert(a); continue }
            guard let v = it.next() else { throw BenchError("\(a) needs a value") }
            values[a] = v
        }
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }
    func string(_ name: String) -> String? { values[name] }

    func int(_ name: String, default d: Int? = nil, range: ClosedRange<Int>) throws -> Int {
        guard let raw = values[name] else {
            guard let d else { throw BenchError("\(name) is required") }
            return d
        }
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var digits = Substring(raw), scale = 1
        if let last = raw.last, let u = units[last] { digits = raw.dropLast(); scale = u }
        guard let n = Int(digits), range.contains(n * scale) else { throw BenchError("\(name) must be in \(range), not \(raw)") }
        return n * scale
    }

    func route() throws -> Route {
        guard let via = values["--via"] else { throw BenchError("--via is required") }
        return try Route(via: via, target: values["--target"])
    }

    /// The UDP commands' route to `--target`, or (`targetKey` "--probe-target") to another one.
    func udpRoute(targetKey: String = "--target") throws -> Route {
        guard let via = values["--via"] else { throw BenchError("--via is required") }
        return try Route(udpVia: via, target: values[targetKey])
    }
}

/// A UDP payload: room for the datagram's number, at most Stockade's 8 KiB datagram.
func udpSize(_ a: Arguments) throws -> Int { try a.int("--size", default: 1200, range: 8...8192) }

func main() -> Int32 {
    let argv = CommandLine.arguments
    guard argv.count >= 2 else { writeLine(usage, to: 2); return 2 }
    signal(SIGPIPE, SIG_IGN)
    do {
        let a = try Arguments(argv.count > 2 && argv[1] != "ports" ? argv[2...] : [])
        let timeout = try a.int("--timeout-ms", default: 5000, range: 10...600_000)
        switch argv[1] {
        case "source":
            guard let listen = a.string("--listen") else { throw BenchError("--listen is required") }
            try Source.run(listen: listen, udpSink: a.string("--udp-sink"), compressibleByDefault: a.flag("--compressible"),
                           lifetimeSeconds: try a.int("--lifetime", default: 3600, range: 1...86_400))
        case "throughput":
            Throughput.run(route: try a.route(), streams: try a.int("--streams", range: 1...1024),
                           bytes: try a.int("--bytes", range: 1...(64 << 30)), compressible: a.flag("--compressible"),
                           timeoutMilliseconds: timeout).emit()
        case "latency":
            let neighbour: Latency.Neighbour
            switch a.string("--neighbour") {
            case nil, "none", "idle": neighbour = .none
            case "stalled": neighbour = .stalled
            case "bulk": neighbour = .bulk
            case let other?: throw BenchError("--neighbour must be stalled or bulk, not \(other)")
            }
            Latency.connectFirstByte(route: try a.route(), count: try a.int("--count", range: 1...100_000),
                                     neighbour: neighbour, timeoutMilliseconds: timeout).emit()
        case "eof":
            Latency.eof(route: try a.route(), count: try a.int("--count", range: 1...10_000), timeoutMilliseconds: timeout).emit()
        case "idle":
            Idle.run(route: try a.route(), sessions: try a.int("--sessions", range: 1...100_000),
                     holdSeconds: try a.int("--hold", range: 0...3600), timeoutMilliseconds: timeout).emit()
        case "udp-rtt":
            UDPBench.rtt(route: try a.udpRoute(), count: try a.int("--count", range: 1...1_000_000),
                         size: try udpSize(a), timeoutMilliseconds: timeout).emit()
        case "udp-rate":
            UDPBench.rate(route: try a.udpRoute(), window: try a.int("--window", range: 1...65_536),
                          seconds: try a.int("--seconds", range: 1...600), size: try udpSize(a), timeoutMilliseconds: timeout).emit()
        case "udp-flood":
            let route = try a.udpRoute()
            var probe: Route? = nil
            if a.string("--probe-target") != nil {
                probe = try a.udpRoute(targetKey: "--probe-target")
            } else if case .forward = route {
                probe = route
            }
            UDPBench.flood(route: route, probe: probe, seconds: try a.int("--seconds", range: 1...600),
                           size: try udpSize(a), timeoutMilliseconds: timeout).emit()
        case "ports":
            guard argv.count == 3, let n = Int(argv[2]), (1...64).contains(n) else { throw BenchError("ports N, N in 1...64") }
            print(try Idle.freePorts(n).map { "\($0)" }.joined(separator: " "))
        case "-h", "--help":
            print(usage)
        default:
            throw BenchError("unknown command \(argv[1])")
        }
        return 0
    } catch {
        writeLine("StockadeTunnelBench: \(error)\n\(usage)", to: 2)
        return 2
    }
}

exit(main())
