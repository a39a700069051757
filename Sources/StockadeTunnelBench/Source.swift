#if canImport(Glibc)
import Glibc
#endif
import Sockets

/// `source`: the far end of every tunnel. One thread per connection; the client's first byte
/// chooses what the connection does (see `Command`). Runs until `lifetime` seconds have passed.
enum Source {
    /// Incompressible bytes come from this ring (4 MiB of xorshift output), compressible ones
    /// from repeated text; both are made once, so serving costs only the copy into the socket.
    static let ringBytes = 4 << 20
    static let chunk = 256 << 10
    /// A connection idle (or blocked writing) this long is dropped: a stalled session's thread
    /// cannot outlive the benchmark by much.
    static let ioTimeoutMilliseconds = 120_000

    /// `listen` serves TCP and, on the same port, echoes UDP datagrams; `udpSink` (if any) is a
    /// UDP socket that never reads (a flood's target: its buffer fills, the kernel drops).
    static func run(listen: String, udpSink: String?, compressibleByDefault: Bool, lifetimeSeconds: Int) throws {
        let address = try endpoint(listen, "--listen")
        let random = randomRing(), text = textRing()   // before listening: no client waits for them
        let listener: Int32, echo: Int32
        do {
            listener = try TCPSocket.listen(on: address, backlog: 4096)
            echo = try TCPSocket.bindUDP(on: SocketAddress.local(of: listener) ?? address)
        } catch {
            throw BenchError("\(error)")
        }
        var sink: Int32? = nil
        if let udpSink {
            do { sink = try TCPSocket.bindUDP(on: try endpoint(udpSink, "--udp-sink")) } catch { throw BenchError("\(error)") }
        }
        let bound = SocketAddress.local(of: listener).map { "\($0)" } ?? listen
        writeLine("source listen=\(bound) udp_echo=\(bound) udp_sink=\(sink.flatMap { SocketAddress.local(of: $0) }.map { "\($0)" } ?? "-") "
                  + "ring_bytes=\(ringBytes) default=\(compressibleByDefault ? "compressible" : "incompressible")", to: 1)
        let end = monotonicNanos() + UInt64(lifetimeSeconds) * 1_000_000_000
        startThread(joinable: false) { echoDatagrams(echo, until: end) }
        while monotonicNanos() < end {
            guard TCPSocket.waitFor(listener, events: Int16(POLLIN), timeoutMilliseconds: 500) else { continue }
            let fd = accept(listener, nil, nil)
            if fd < 0 { continue }
            startThread(joinable: false) {
                let s = Stream(fd: fd, timeoutMilliseconds: ioTimeoutMilliseconds)
                try? serve(s, random: random, text: text, compressibleByDefault: compressibleByDefault)
                s.close()
            }
        }
    }

    /// Every datagram back to its sender, as it came, until `end` (one thread; the socket is
    /// non-blocking and each wait bounded, so the loop ends on time).
    static func echoDatagrams(_ fd: Int32, until end: UInt64) {
        var bytes = Datagrams.socketBufferBytes
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, socklen_t(MemoryLayout<Int32>.size))
        var buf = [UInt8](repeating: 0, count: 65_536)
        var from = sockaddr_storage()
        while monotonicNanos() < end {
            guard TCPSocket.waitFor(fd, events: Int16(POLLIN), timeoutMilliseconds: 500) else { continue }
            // Everything queued, then wait again.
            for _ in 0..<4096 {
                var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let n = buf.withUnsafeMutableBytes { raw in
                    withUnsafeMutablePointer(to: &from) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &len) }
                    }
                }
                if n < 0 { break }
                _ = buf.withUnsafeBytes { raw in
                    withUnsafePointer(to: &from) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, raw.baseAddress, n, 0, $0, len) }
                    }
                }
            }
        }
    }

    static func serve(_ s: Stream, random: [UInt8], text: [UInt8], compressibleByDefault: Bool) throws {
        guard let command = Command(rawValue: try s.readExactly(1)[0]) else { return }
        switch command {
        case .data, .text:
            let count = Int(bigEndianValue(try s.readExactly(8)))
            let ring = (command == .text || compressibleByDefault) ? text : random
            try stream(count, from: ring, to: s)
        case .echo:
            try echo(s)
        case .firstByte:
            try s.write([0x2A])
            try echo(s)
        case .eofAfterTrigger:
            _ = try s.readExactly(1)
            try s.write(bigEndianBytes(monotonicNanos()))
            s.shutdownWrite()
            var scratch = [UInt8](repeating: 0, count: 64)
            _ = try scratch.withUnsafeMutableBytes { try s.read(into: $0, max: 64) }  // the client's close
        }
    }

    /// Writes `count` bytes cycling through `ring`, in chunks that wrap around its end.
    static func stream(_ count: Int, from ring: [UInt8], to s: Stream) throws {
        var sent = 0, offset = 0
        try ring.withUnsafeBytes { raw in
            while sent < count {
                let n = min(chunk, count - sent, ring.count - offset)
                try s.write(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + n]))
                sent += n
                offset = (offset + n) % ring.count
            }
        }
    }

    static func echo(_ s: Stream) throws {
        var buf = [UInt8](repeating: 0, count: 64 << 10)
        try buf.withUnsafeMutableBytes { raw in
            while true {
                let n = try s.read(into: raw, max: raw.count)
                if n == 0 { return }
                try s.write(UnsafeRawBufferPointer(rebasing: raw[0..<n]))
            }
        }
    }

    static func randomRing() -> [UInt8] {
        var x: UInt64 = 0x2545_f491_4f6c_dd1d
        var ring = [UInt8](repeating: 0, count: ringBytes)
        ring.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in words.indices {
                x ^= x >> 12; x ^= x << 25; x ^= x >> 27          // xorshift64*
                words[i] = x &* 0x2545_f491_4f6c_dd1d
            }
        }
        return ring
    }

    static func textRing() -> [UInt8] {
        let line = Array("GET /stockade/benchmark HTTP/1.1 -- the same line again, as logs and JSON repeat themselves\n".utf8)
        return (0..<ringBytes).map { line[$0 % line.count] }
    }
}
