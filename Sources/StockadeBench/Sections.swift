/// Sections b, c and d measure modules other engineers are still writing; until their APIs
/// land each section says so instead of measuring.
enum BenchSections {
    static func secp256k1(_ report: Report, runs: Int) {
        report.section("b. libsecp256k1 operations of the RLPx handshake (CPU time)")
        report.note("not available yet: module Secp256k1 has no API to measure")
    }

    static func handshake(_ report: Report, runs: Int) {
        report.section("c. Responder handshake CPU time vs its secp256k1 operations")
        report.note("not available yet: module RLPxHandshake has no API to measure")
    }

    static func frame(_ report: Report, runs: Int, clock: Clock.Kind) {
        report.section("d. Frame encode+decode throughput (wall time)")
        report.note("not available yet: module RLPxFrame has no FrameCodec to measure")
    }
}
