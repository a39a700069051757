#if canImport(Glibc)
import Glibc
#endif
import Control
import Foundation
import IPC

/// StockadeListingBench: a 10,000-peer `stockade peers --json` listing encoded the way the
/// daemon does it (issue 10), stage by stage, CPU seconds of this process, median of N runs:
///   pm      the peer manager's pages (sized to IPCLimits.maxControlReplyLength), as IPC JSON
///   sup     the supervisor joining the pages into the client's one reply line
///   cli     the client decoding that line and printing `--json` (pretty, sorted)
///
///     StockadeListingBench [--runs N] [--peers N]
var runs = 7, count = 10_000
var args = Array(CommandLine.arguments.dropFirst()).makeIterator()
while let a = args.next() {
    switch a {
    case "--runs": runs = Int(args.next() ?? "") ?? runs
    case "--peers": count = Int(args.next() ?? "") ?? count
    default: print("usage: StockadeListingBench [--runs N] [--peers N]"); exit(2)
    }
}

func cpu() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

func median(_ v: [Double]) -> Double {
    let s = v.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Peers like the scale run's: full node IDs, a client ID, loopback addresses.
let peers: [PeerInfo] = (0..<count).map { i in
    var p = PeerInfo(id: String(repeating: String(format: "%02x", i % 251), count: 64), clientID: "StockadeLoad/v0.1.0/linux-amd64/swift6.3",
                     address: "127.0.0.\(2 + i % 8):\(30000 + i % 30000)", direction: i % 2 == 0 ? "inbound" : "outbound",
                     trusted: i % 17 == 0, isStatic: i % 13 == 0, capabilities: ["stk/1"],
                     connectedSince: 1_764_880_000 + Double(i) / 7, bytesIn: UInt64(i * 131), bytesOut: UInt64(i * 97))
    p.linkLoop = i % 2
    return p
}

// --- the pipeline, as the daemon runs it -------------------------------------------------------

/// Peer manager: every page of the listing, as the IPC ControlReply JSON strings.
func pmPages() -> [String] {
    var pages: [String] = []
    var offset = 0
    while true {
        let (json, next) = Pipeline.pmPage(peers, from: offset)
        pages.append(json)
        guard let next else { return pages }
        offset = next
    }
}

var pmT: [Double] = [], supT: [Double] = [], cliT: [Double] = []
var pageCount = 0, lineBytes = 0
for _ in 0..<runs {
    var t0 = cpu()
    let pages = pmPages()
    pmT.append(cpu() - t0)
    t0 = cpu()
    let line = Pipeline.supervisorJoin(pages)
    supT.append(cpu() - t0)
    t0 = cpu()
    let reply = try ControlCoding.decode(ControlReply.self, line.dropLast())
    let encoder = ControlCoding.encoder
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let printed = try encoder.encode(reply.result?.peers ?? [])
    cliT.append(cpu() - t0)
    precondition(reply.result?.peers == peers && printed.count > 0, "the listing does not round-trip")
    precondition(line == ControlCoding.line(ControlReply.success(ControlResult(peers: peers))),
                 "the joined line differs from encoding the whole reply")
    pageCount = pages.count
    lineBytes = line.count
}
func ms(_ v: [Double]) -> String { String(format: "%7.1f ms", median(v) * 1000) }
print("listing of \(count) peers: \(pageCount) pages, reply line \(lineBytes) bytes; CPU, median of \(runs) runs")
print("  pm  (pages as IPC JSON)     \(ms(pmT))")
print("  sup (join into one line)    \(ms(supT))")
print("  daemon (pm + sup)           \(ms(zip(pmT, supT).map { $0 + $1 }))")
print("  cli (decode, print --json)  \(ms(cliT))")
print("  total                       \(ms(zip(zip(pmT, supT), cliT).map { $0.0 + $0.1 + $1 }))")
