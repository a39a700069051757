/// The 25 64-bit lanes of the Keccak-f[1600] state, lane (x, y) at index x + 5y.
///
/// A homogeneous tuple: stored inline (no heap, no copy-on-write) and laid out like a C array,
/// so it can be viewed as bytes for export and copied whole into locals for the permutation.
@usableFromInline
typealias KeccakLaneTuple = (UInt64, UInt64, UInt64, UInt64, UInt64,
                             UInt64, UInt64, UInt64, UInt64, UInt64,
                             UInt64, UInt64, UInt64, UInt64, UInt64,
                             UInt64, UInt64, UInt64, UInt64, UInt64,
                             UInt64, UInt64, UInt64, UInt64, UInt64)

@usableFromInline
struct KeccakLanes: Sendable {
    @usableFromInline var s: KeccakLaneTuple = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    @usableFromInline init() {}

    /// Lane `i`, for export and import only (not on the hashing path).
    subscript(i: Int) -> UInt64 {
        get {
            precondition(i >= 0 && i < 25)
            return withUnsafeBytes(of: s) { $0.load(fromByteOffset: i * 8, as: UInt64.self) }
        }
        set {
            precondition(i >= 0 && i < 25)
            withUnsafeMutableBytes(of: &s) { $0.storeBytes(of: newValue, toByteOffset: i * 8, as: UInt64.self) }
        }
    }

    /// XORs one 136-byte block (little-endian lanes) into the state and permutes.
    mutating func absorb(_ block: UnsafeRawBufferPointer) {
        precondition(block.count >= Keccak256.rate)
        absorb(blocks: block.baseAddress!, count: 1)
    }

    /// Absorbs `count` consecutive 136-byte blocks starting at `base`.
    ///
    /// The state lives in locals for the whole run, so the lanes stay in registers (or the
    /// spill slots the compiler picks) from block to block; the caller guarantees
    /// `count * 136` readable bytes. This is the only place the permutation is inlined.
    mutating func absorb(blocks base: UnsafeRawPointer, count: Int) {
        var a = s
        complementLanes(&a)
        var p = base
        for _ in 0..<count {
            // XOR commutes with complementing, so input enters the complemented form as is.
            a.0 ^= lane(p, 0); a.1 ^= lane(p, 1); a.2 ^= lane(p, 2); a.3 ^= lane(p, 3)
            a.4 ^= lane(p, 4); a.5 ^= lane(p, 5); a.6 ^= lane(p, 6); a.7 ^= lane(p, 7)
            a.8 ^= lane(p, 8); a.9 ^= lane(p, 9); a.10 ^= lane(p, 10); a.11 ^= lane(p, 11)
            a.12 ^= lane(p, 12); a.13 ^= lane(p, 13); a.14 ^= lane(p, 14); a.15 ^= lane(p, 15)
            a.16 ^= lane(p, 16)
            keccakF1600Complemented(&a)
            p += Keccak256.rate
        }
        complementLanes(&a)
        s = a
    }

    func squeeze32() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { out, initialized in
            let raw = UnsafeMutableRawBufferPointer(out)
            raw.storeBytes(of: s.0.littleEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: s.1.littleEndian, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: s.2.littleEndian, toByteOffset: 16, as: UInt64.self)
            raw.storeBytes(of: s.3.littleEndian, toByteOffset: 24, as: UInt64.self)
            initialized = 32
        }
    }
}

/// Lane `i` (little-endian) of the block at `p`; blocks come from caller memory at any alignment.
@inline(__always)
private func lane(_ p: UnsafeRawPointer, _ i: Int) -> UInt64 {
    UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self))
}

/// One rate-sized block of pending input, stored inline.
@usableFromInline
struct KeccakBlock: Sendable {
    @usableFromInline var b: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                              UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    @usableFromInline init() {}

    subscript(i: Int) -> UInt8 {
        get {
            precondition(i >= 0 && i < Keccak256.rate)
            return withUnsafeBytes(of: b) { $0[i] }
        }
        set {
            precondition(i >= 0 && i < Keccak256.rate)
            withUnsafeMutableBytes(of: &b) { $0[i] = newValue }
        }
    }

    mutating func copy(from src: UnsafeRawBufferPointer, offset: Int, count: Int, to dst: Int) {
        precondition(offset >= 0 && count >= 0 && offset + count <= src.count && dst >= 0 && dst + count <= Keccak256.rate)
        if count == 0 { return }
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

@inline(__always) private func rotl(_ x: UInt64, _ n: UInt64) -> UInt64 { (x &<< n) | (x &>> (64 &- n)) }

/// The lane-complementing transform (Keccak team, "Keccak implementation overview", 2.2):
/// lanes (1,0), (2,0), (3,1), (2,2), (2,3) and (0,4) are kept inverted during the rounds, which
/// lets χ use OR in place of most NOTs. Applying it twice is the identity, so the state is
/// converted on entry to a run of blocks and back on exit.
@inline(__always)
private func complementLanes(_ a: inout KeccakLaneTuple) {
    a.1 = ~a.1; a.2 = ~a.2; a.8 = ~a.8; a.12 = ~a.12; a.17 = ~a.17; a.20 = ~a.20
}

/// Round constants RC[i_r] of Keccak-f[1600] (FIPS 202, section 3.2.5), as a tuple so the
/// permutation can read them through a pointer without array bounds checks.
private let roundConstants: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                             UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                             UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (
    0x0000000000000001, 0x0000000000008082, 0x800000000000808a, 0x8000000080008000,
    0x000000000000808b, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008a, 0x0000000000000088, 0x0000000080008009, 0x000000008000000a,
    0x000000008000808b, 0x800000000000008b, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800a, 0x800000008000000a,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008
)

/// Keccak-f[1600] (FIPS 202, section 3.3) on a lane-complemented state: 24 rounds.
///
/// The round body is written out once with every lane a local (no tables, no indexing, no
/// bounds checks) and looped with three rounds per iteration. Three was measured, not
/// derived: on the project's 2-core x86-64 machine (best of 1500 alternating trials, 16 KiB
/// inputs, against OpenSSL 3.0's assembly sha3-256 in the same process) one round per
/// iteration reached 0.85x OpenSSL, two 0.90x, three 0.935x, four 0.89x, six to twelve 0.87x
/// and full unrolling 0.81x: long unrolls overflow the decoded-instruction cache.
@inline(__always)
private func keccakF1600Complemented(_ a: inout KeccakLaneTuple) {
    // θ's column parities; from then on each round leaves the parities of its own output.
    var c = (a.0 ^ a.5 ^ a.10 ^ a.15 ^ a.20, a.1 ^ a.6 ^ a.11 ^ a.16 ^ a.21, a.2 ^ a.7 ^ a.12 ^ a.17 ^ a.22,
             a.3 ^ a.8 ^ a.13 ^ a.18 ^ a.23, a.4 ^ a.9 ^ a.14 ^ a.19 ^ a.24)
    withUnsafeBytes(of: roundConstants) { rcs in
        var r = 0
        while r < 24 {
            keccakRound(&a, &c, rcs.load(fromByteOffset: r &* 8, as: UInt64.self))
            keccakRound(&a, &c, rcs.load(fromByteOffset: (r &+ 1) &* 8, as: UInt64.self))
            keccakRound(&a, &c, rcs.load(fromByteOffset: (r &+ 2) &* 8, as: UInt64.self))
            r &+= 3
        }
    }
}

/// One round Rnd = ι ∘ χ ∘ π ∘ ρ ∘ θ (FIPS 202, section 3.3) on lanes in the lane-complemented
/// form (see `complementLanes`), taking θ's column parities `c` of the state and leaving
/// those of the result.
///
/// - θ: offsets d[x] = c[x-1] ^ ROT(c[x+1], 1). The parities are accumulated while the output
///   rows are written, when those lanes are at hand, instead of re-reading all 25 lanes at
///   the start of the next round (as OpenSSL's keccak1600-x86_64 does too).
/// - ρ and π together: b[y, 2x + 3y] = ROT(a[x, y] ^ d[x], r[x, y]), lanes indexed x + 5y,
///   offsets r from FIPS 202 table 2. Built one output row at a time, so only five b's are
///   live at once.
/// - χ: e[x] = b[x] ^ (~b[x+1] & b[x+2]) in each row. With some b's stored inverted, De
///   Morgan turns most of its 25 NOTs into ORs; each lane's form below is the one with the
///   fewest NOTs that keeps the complemented lanes complemented (5 NOTs a round; the tests
///   check every form against the KAT).
/// - ι: RC into lane (0, 0).
@inline(__always)
private func keccakRound(_ a: inout KeccakLaneTuple, _ c: inout (UInt64, UInt64, UInt64, UInt64, UInt64), _ rc: UInt64) {
    let d0 = c.4 ^ rotl(c.1, 1)
    let d1 = c.0 ^ rotl(c.2, 1)
    let d2 = c.1 ^ rotl(c.3, 1)
    let d3 = c.2 ^ rotl(c.4, 1)
    let d4 = c.3 ^ rotl(c.0, 1)
    // row 0
    let b0 = a.0 ^ d0
    let b1 = rotl(a.6 ^ d1, 44)
    let b2 = rotl(a.12 ^ d2, 43)
    let b3 = rotl(a.18 ^ d3, 21)
    let b4 = rotl(a.24 ^ d4, 14)
    let n2 = ~b2
    let e0 = b0 ^ (b1 | b2) ^ rc
    let e1 = b1 ^ (n2 | b3)
    let e2 = b2 ^ (b3 & b4)
    let e3 = b3 ^ (b4 | b0)
    let e4 = b4 ^ (b0 & b1)
    var c0 = e0
    var c1 = e1
    var c2 = e2
    var c3 = e3
    var c4 = e4
    // row 1
    let b5 = rotl(a.3 ^ d3, 28)
    let b6 = rotl(a.9 ^ d4, 20)
    let b7 = rotl(a.10 ^ d0, 3)
    let b8 = rotl(a.16 ^ d1, 45)
    let b9 = rotl(a.22 ^ d2, 61)
    let n9 = ~b9
    let e5 = b5 ^ (b6 | b7)
    let e6 = b6 ^ (b7 & b8)
    let e7 = b7 ^ (b8 | n9)
    let e8 = b8 ^ (b9 | b5)
    let e9 = b9 ^ (b5 & b6)
    c0 ^= e5
    c1 ^= e6
    c2 ^= e7
    c3 ^= e8
    c4 ^= e9
    // row 2
    let b10 = rotl(a.1 ^ d1, 1)
    let b11 = rotl(a.7 ^ d2, 6)
    let b12 = rotl(a.13 ^ d3, 25)
    let b13 = rotl(a.19 ^ d4, 8)
    let b14 = rotl(a.20 ^ d0, 18)
    let n13 = ~b13
    let e10 = b10 ^ (b11 | b12)
    let e11 = b11 ^ (b12 & b13)
    let e12 = b12 ^ (n13 & b14)
    let e13 = n13 ^ (b14 | b10)
    let e14 = b14 ^ (b10 & b11)
    c0 ^= e10
    c1 ^= e11
    c2 ^= e12
    c3 ^= e13
    c4 ^= e14
    // row 3
    let b15 = rotl(a.4 ^ d4, 27)
    let b16 = rotl(a.5 ^ d0, 36)
    let b17 = rotl(a.11 ^ d1, 10)
    let b18 = rotl(a.17 ^ d2, 15)
    let b19 = rotl(a.23 ^ d3, 56)
    let n18 = ~b18
    let e15 = b15 ^ (b16 & b17)
    let e16 = b16 ^ (b17 | b18)
    let e17 = b17 ^ (n18 | b19)
    let e18 = n18 ^ (b19 & b15)
    let e19 = b19 ^ (b15 | b16)
    c0 ^= e15
    c1 ^= e16
    c2 ^= e17
    c3 ^= e18
    c4 ^= e19
    // row 4
    let b20 = rotl(a.2 ^ d2, 62)
    let b21 = rotl(a.8 ^ d3, 55)
    let b22 = rotl(a.14 ^ d4, 39)
    let b23 = rotl(a.15 ^ d0, 41)
    let b24 = rotl(a.21 ^ d1, 2)
    let n21 = ~b21
    let e20 = b20 ^ (n21 & b22)
    let e21 = n21 ^ (b22 | b23)
    let e22 = b22 ^ (b23 & b24)
    let e23 = b23 ^ (b24 | b20)
    let e24 = b24 ^ (b20 & b21)
    c0 ^= e20
    c1 ^= e21
    c2 ^= e22
    c3 ^= e23
    c4 ^= e24
    c = (c0, c1, c2, c3, c4)
    a = (e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12, e13, e14, e15, e16, e17, e18, e19, e20, e21, e22, e23, e24)
}
