#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Starts `body` on a new POSIX thread with a small stack (the source server runs one thread
/// per connection, a thousand of them for the idle-sessions row). Joinable when `joinable`.
@discardableResult
func startThread(stackBytes: Int = 256 << 10, joinable: Bool = true, _ body: @escaping @Sendable () -> Void) -> pthread_t {
    final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    defer { pthread_attr_destroy(&attr) }
    pthread_attr_setstacksize(&attr, stackBytes)
    if !joinable { pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED)) }
    var tid = pthread_t()
    let arg = Unmanaged.passRetained(Box(body)).toOpaque()
    let rc = pthread_create(&tid, &attr, { p in
        Unmanaged<Box>.fromOpaque(p!).takeRetainedValue().body()
        return nil
    }, arg)
    precondition(rc == 0, "pthread_create: \(rc)")
    return tid
}

/// Results gathered from several threads.
final class Tally: Sendable {
    private let state = Mutex<(bytes: Int, errors: [String])>((0, []))

    func add(bytes: Int) { state.withLock { $0.bytes += bytes } }
    func fail(_ why: String) { state.withLock { $0.errors.append(why) } }
    var bytes: Int { state.withLock { $0.bytes } }
    var errors: [String] { state.withLock { $0.errors } }
}

/// A flag one thread raises and others poll.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func raise() { value.store(true, ordering: .releasing) }
    var isRaised: Bool { value.load(ordering: .acquiring) }
}

func secondsSince(_ startNanos: UInt64) -> Double { Double(monotonicNanos() - startNanos) / 1e9 }
