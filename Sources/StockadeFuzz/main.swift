import FuzzTargets
#if FUZZING
import CFuzzDriver
#endif
import Foundation

// Built by ops/fuzz.sh with `-Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer,address`; the target is
// chosen with STOCKADE_FUZZ_TARGET. Without FUZZING it replays files given as arguments (a
// crash reproducer), so the target also builds in the normal package build.
let targetName = ProcessInfo.processInfo.environment["STOCKADE_FUZZ_TARGET"] ?? "rlp"
guard let target = FuzzTargets.all[targetName] else {
    FileHandle.standardError.write(Data("unknown STOCKADE_FUZZ_TARGET \(targetName); one of \(FuzzTargets.all.keys.sorted())\n".utf8))
    exit(2)
}

#if FUZZING
let selected = target
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selected(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOne(data, size) })
#else
for path in CommandLine.arguments.dropFirst() {
    guard let data = FileManager.default.contents(atPath: path) else { continue }
    target(Array(data))
    print("\(targetName): \(path) ok")
}
#endif
