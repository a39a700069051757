/// The 25 64-bit lanes of the Keccak-f[1600] state, stored inline (no heap, no CoW).
@usableFromInline
struct KeccakLanes: Sendable {
    @usableFromInline var s: (UInt64, UInt64, UInt64, UInt64, UInt64,
                              UInt64, UInt64, UInt64, UInt64, UInt64,
                              UInt64, UInt64, UInt64, UInt64, UInt64,
                              UInt64, UInt64, UInt64, UInt64, UInt64,
                              UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    @usableFromInline init() {}

    subscript(i: Int) -> UInt64 {
        get { withUnsafeBytes(of: s) { $0.load(fromByteOffset: i * 8, as: UInt64.self) } }
        set { withUnsafeMutableBytes(of: &s) { $0.storeBytes(of: newValue, toByteOffset: i * 8, as: UInt64.self) } }
    }

    /// XORs one 136-byte block (little-endian lanes) into the state and permutes.
    mutating func absorb(_ block: UnsafeRawBufferPointer) {
        withUnsafeMutableBytes(of: &s) { raw in
            let lanes = raw.bindMemory(to: UInt64.self)
            for i in 0..<(Keccak256.rate / 8) {
                lanes[i] ^= UInt64(littleEndian: block.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
            }
            keccakF1600(lanes.baseAddress!)
        }
    }

    func squeeze32() -> [UInt8] {
        withUnsafeBytes(of: s) { raw in
            var out = [UInt8](repeating: 0, count: 32)
            for i in 0..<4 {
                let lane = UInt64(littleEndian: raw.load(fromByteOffset: i * 8, as: UInt64.self))
                for b in 0..<8 { out[i * 8 + b] = UInt8(truncatingIfNeeded: lane >> (8 * UInt64(b))) }
            }
            return out
        }
    }
}

/// One rate-sized block of pending input, stored inline.
@usableFromInline
struct KeccakBlock: Sendable {
    @usableFromInline var b: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                              UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    @usableFromInline init() {}

    subscript(i: Int) -> UInt8 {
        get { withUnsafeBytes(of: b) { $0[i] } }
        set { withUnsafeMutableBytes(of: &b) { $0[i] = newValue } }
    }

    mutating func copy(from src: UnsafeRawBufferPointer, offset: Int, count: Int, to dst: Int) {
        withUnsafeMutableBytes(of: &b) { raw in
            raw.baseAddress!.advanced(by: dst).copyMemory(from: src.baseAddress!.advanced(by: offset), byteCount: count)
        }
    }

    /// Keccak padding (pad10*1 with the 0x01 domain byte) of the block after `count` bytes.
    mutating func pad(from count: Int) {
        withUnsafeMutableBytes(of: &b) { raw in
            for i in count..<Keccak256.rate { raw[i] = 0 }
            raw[count] ^= 0x01
            raw[Keccak256.rate - 1] ^= 0x80
        }
    }

    func absorb(into lanes: inout KeccakLanes) {
        withUnsafeBytes(of: b) { lanes.absorb($0) }
    }
}

/// Round constants of Keccak-f[1600] (FIPS 202, section 3.2.5).
private let roundConstants: [UInt64] = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808a, 0x8000000080008000,
    0x000000000000808b, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008a, 0x0000000000000088, 0x0000000080008009, 0x000000008000000a,
    0x000000008000808b, 0x800000000000008b, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800a, 0x800000008000000a,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
]

@inline(__always) private func rotl(_ x: UInt64, _ n: UInt64) -> UInt64 { (x << n) | (x >> (64 &- n)) }

/// Keccak-f[1600]: 24 rounds of θ, ρ, π, χ, ι over lanes a[x + 5y].
@usableFromInline
func keccakF1600(_ a: UnsafeMutablePointer<UInt64>) {
    // ρ offsets and π destinations in lane order, per FIPS 202 section 3.2.2–3.2.3.
    let rho: [UInt64] = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14]
    var b = [UInt64](repeating: 0, count: 25)
    var c = [UInt64](repeating: 0, count: 5)
    for round in 0..<24 {
        for x in 0..<5 { c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] }
        for x in 0..<5 {
            let d = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1)
            for y in 0..<5 { a[x + 5 * y] ^= d }
        }
        for x in 0..<5 {
            for y in 0..<5 {
                let i = x + 5 * y
                let r = rho[i]
                b[y + 5 * ((2 * x + 3 * y) % 5)] = r == 0 ? a[i] : rotl(a[i], r)
            }
        }
        for y in 0..<5 {
            for x in 0..<5 {
                a[x + 5 * y] = b[x + 5 * y] ^ (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y])
            }
        }
        a[0] ^= roundConstants[round]
    }
}
