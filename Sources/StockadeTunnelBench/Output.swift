#if canImport(Glibc)
import Glibc
#endif

/// One result: a machine-readable `name key=value ...` line on stdout (what ops/bench/tunnel.sh
/// parses) and the same as a human table row on stderr.
struct Line {
    let name: String
    let fields: [(String, String)]

    init(_ name: String, _ fields: [(String, String)]) {
        self.name = name
        self.fields = fields
    }

    func emit() {
        writeLine(([name] + fields.map { "\($0.0)=\($0.1)" }).joined(separator: " "), to: 1)
        let cells = fields.map { "\($0.0) \($0.1)" }.joined(separator: " | ")
        writeLine("  \(name.padding(12)) | \(cells)", to: 2)
    }
}

/// A line that is no measurement (an error, a limit), on stderr only.
func report(note: String) {
    writeLine("  # \(note)", to: 2)
}

/// One whole line straight to a file descriptor (unbuffered: the script reads stdout while the
/// tool still runs, and the threads may report at once).
func writeLine(_ text: String, to fd: Int32) {
    var bytes = Array((text + "\n").utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return }
        bytes = bytes.dropFirst(n)
    }
}

func fmt(_ v: Double, _ decimals: Int) -> String {
    guard v.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let r = (v * scale).rounded() / scale
    var s = decimals == 0 ? "\(Int(r))" : "\(r)"
    if decimals > 0, let dot = s.firstIndex(of: ".") {
        let have = s.distance(from: dot, to: s.endIndex) - 1
        if have < decimals { s += String(repeating: "0", count: decimals - have) }
    }
    return s
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
