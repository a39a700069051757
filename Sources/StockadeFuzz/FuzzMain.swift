import FuzzTargets
import Foundation
#if FUZZING
import CFuzzDriver
#endif

/// ops/fuzz.sh builds this with `-Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer,address`: main then
/// hands control to libFuzzer's driver (LLVMFuzzerRunDriver, SWIFT-NOTES.md "Testing tools"),
/// which feeds the target named by STOCKADE_FUZZ_TARGET. Without FUZZING it replays the files
/// given as arguments through that target (a crash reproducer), so it also builds normally.
@main
enum FuzzMain {
    static let name = ProcessInfo.processInfo.environment["STOCKADE_FUZZ_TARGET"] ?? "rlp"

    static func main() {
        guard let target = FuzzTargets.all[name] else {
            FileHandle.standardError.write(Data("unknown STOCKADE_FUZZ_TARGET \(name); one of \(FuzzTargets.all.keys.sorted())\n".utf8))
            exit(2)
        }
        Selected.target = target
        #if FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            Selected.target(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
            return 0
        })
        #else
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            target(Array(data))
            print("\(name): \(path) ok")
        }
        #endif
    }
}

/// The target the C callback calls (a C function pointer cannot capture it).
enum Selected {
    nonisolated(unsafe) static var target: @Sendable ([UInt8]) -> Void = { _ in }
}
