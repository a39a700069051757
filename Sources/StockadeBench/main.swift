#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RLPxHandshake

/// StockadeBench: the transport's hot paths, in a release build.
///
///     StockadeBench [--runs N] [--machine] [--throughput-clock wall|cpu] [keccak] [secp256k1] [handshake] [frame]
///
/// With no section names every section runs. Throughput is timed on the wall clock unless
/// `--throughput-clock cpu` asks for this process's CPU time (steadier on a crowded machine;
/// compare it with `openssl speed` without `-elapsed`, which also counts CPU time). `--machine` prints one `name key=value...` line
/// per sample instead of the table, for ops/bench/transport.sh to combine with openssl.
struct Options {
    /// Five runs: enough for a median that shrugs off one descheduled run on a shared machine.
    var runs = 5
    var machine = false
    var throughputCPUClock = false
    var sections: Set<String> = []

    static let allSections = ["keccak", "secp256k1", "handshake", "frame"]

    init(_ args: [String]) {
        var it = args.makeIterator()
        while let arg = it.next() {
            switch arg {
            case "--runs":
                guard let v = it.next(), let n = Int(v), (1...1000).contains(n) else { Options.usage() }
                runs = n
            case "--machine": machine = true
            case "--throughput-clock":
                switch it.next() {
                case "wall": throughputCPUClock = false
                case "cpu": throughputCPUClock = true
                default: Options.usage()
                }
            case "-h", "--help": Options.usage(status: 0)
            default:
                guard Options.allSections.contains(arg) else { Options.usage() }
                sections.insert(arg)
            }
        }
        if sections.isEmpty { sections = Set(Options.allSections) }
    }

    static func usage(status: Int32 = 2) -> Never {
        print("usage: StockadeBench [--runs N] [--machine] [--throughput-clock wall|cpu] [\(allSections.joined(separator: "] ["))]")
        exit(status)
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let report = Report(machine: options.machine)
let throughputClock: Clock.Kind = options.throughputCPUClock ? .cpu : .wall

if options.sections.contains("keccak") {
    report.section("a. Keccak-256 throughput (\(throughputClock.name), one hash per call)")
    for (bytes, mbps) in KeccakBench.run(runs: options.runs, clock: throughputClock) {
        report.samples("keccak256", ["bytes": "\(bytes)"], unit: "MB/s", mbps,
                       label: "keccak256 \(Report.size(bytes))")
    }
}
if options.sections.contains("secp256k1") {
    report.section("b. secp256k1 operations of the RLPx handshake (CPU time, via the Secp256k1 module)")
    for (op, us) in Secp256k1Bench.run(runs: options.runs) {
        report.samples("secp256k1", ["op": "\(op)"], unit: "µs/op", us, label: op.rawValue)
    }
}
if options.sections.contains("handshake") {
    report.section("c. Responder handshake (auth -> ack -> secrets) and its crypto bound, CPU time, alternating batches")
    let hs = HandshakeBench.run(runs: options.runs)
    report.samples("handshake", ["role": "responder"], unit: "µs/op", hs.handshake, label: "full responder handshake")
    report.samples("handshake", ["role": "bound"], unit: "µs/op", hs.bound,
                   label: "crypto bound: its public-key calls alone")
    report.samples("handshake", ["role": "share"], unit: "%", hs.share, label: "bound / handshake, per round")
    report.note("crypto bound = ResponderPublicKeyWork.perform() on the same auths: \(ResponderPublicKeyWork.summary)")
}
if options.sections.contains("frame") {
    report.section("d. Message + frame encode and decode, both ends (\(throughputClock.name), MB/s of payload, incompressible payload)")
    for (bytes, snappy, mbps) in FrameBench.run(runs: options.runs, clock: throughputClock) {
        report.samples("frame", ["bytes": "\(bytes)", "snappy": snappy ? "on" : "off"], unit: "MB/s", mbps,
                       label: "\(Report.size(bytes)) message, snappy \(snappy ? "on" : "off")")
    }
}
