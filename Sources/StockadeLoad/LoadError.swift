/// Why a load run could not be made, in words for the person running the benchmark.
enum LoadError: Error, Sendable, CustomStringConvertible {
    case usage(String)
    case setup(String)

    var description: String {
        switch self {
        case .usage(let s): return "usage: \(s)"
        case .setup(let s): return "setting up the load failed: \(s)"
        }
    }
}
