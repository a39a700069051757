import Foundation
import Crypto
import _CryptoExtras

/// One direction's AES-256-CTR keystream (devp2p rlpx.md: aes-secret, IV zero), continuous
/// across the header and body of every frame for the life of the session.
///
/// The stream is identified by its byte position alone: the counter block is position / 16 and
/// a partial block's remaining keystream is regenerated from it, so the exported state is just
/// the position. swift-crypto's CTR is one-shot, so whole blocks go through it starting at the
/// current counter, and a partial block's keystream is one raw AES block encryption kept here.
struct FrameCipherStream: Sendable {
    let key: AESKey
    /// Bytes of keystream consumed so far.
    private(set) var position: UInt64
    /// The keystream of block position / 16 while position is inside it; empty at a boundary.
    private var partialBlockKeystream: [UInt8]

    init(key: AESKey, position: UInt64 = 0) {
        self.key = key
        self.position = position
        let offset = Int(position % UInt64(FrameLayout.blockLength))
        partialBlockKeystream = offset == 0 ? [] : Self.keystreamBlock(key, index: position / UInt64(FrameLayout.blockLength))
    }

    /// XORs `input` with the next `input.count` keystream bytes into `output` (same length).
    mutating func apply(_ input: UnsafeRawBufferPointer, to output: UnsafeMutableRawBufferPointer) {
        precondition(output.count == input.count, "cipher output must match input length")
        let total = input.count
        let block = FrameLayout.blockLength
        var done = 0

        // Finish the block a previous call left partly used.
        let offset = Int(position % UInt64(block))
        if offset != 0 && total > 0 {
            let take = min(block - offset, total)
            for i in 0..<take { output[i] = input[i] ^ partialBlockKeystream[offset + i] }
            done = take
            position += UInt64(take)
            if position % UInt64(block) == 0 { partialBlockKeystream = [] }
        }

        // Whole blocks: BoringSSL's CTR does the work, restarted at this block's counter. A
        // single block (every frame header) is cheaper as one raw AES call than a CTR setup.
        let whole = (total - done) / block * block
        if whole == block {
            let keystream = Self.keystreamBlock(key, index: position / UInt64(block))
            for i in 0..<block { output[done + i] = input[done + i] ^ keystream[i] }
            done += block
            position += UInt64(block)
        } else if whole > 0 {
            let counter = Self.counterBlock(position / UInt64(block))
            let ciphertext: Data
            do {
                let nonce = try AES._CTR.Nonce(nonceBytes: counter)
                ciphertext = try AES._CTR.encrypt(UnsafeRawBufferPointer(rebasing: input[done..<(done + whole)]),
                                                  using: key.key, nonce: nonce)
            } catch {
                // Only a wrong key or nonce size can fail, and both are fixed by construction.
                preconditionFailure("AES-256-CTR rejected a 32-byte key or 16-byte counter: \(error)")
            }
            ciphertext.withUnsafeBytes { produced in
                output.baseAddress!.advanced(by: done).copyMemory(from: produced.baseAddress!, byteCount: whole)
            }
            done += whole
            position += UInt64(whole)
        }

        // Start of a block that this call does not finish: keep its keystream for the next call.
        if done < total {
            partialBlockKeystream = Self.keystreamBlock(key, index: position / UInt64(block))
            for i in 0..<(total - done) { output[done + i] = input[done + i] ^ partialBlockKeystream[i] }
            position += UInt64(total - done)
        }
    }

    /// Convenience for small inputs (headers, tests).
    mutating func apply(_ input: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: input.count)
        input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { apply(source, to: $0) }
        }
        return output
    }

    /// IV zero plus the block index, as a 128-bit big-endian counter. A UInt64 index is enough:
    /// 2^64 blocks is far beyond any session, so the high half stays zero.
    static func counterBlock(_ index: UInt64) -> [UInt8] {
        var counter = [UInt8](repeating: 0, count: FrameLayout.blockLength)
        for i in 0..<8 { counter[15 - i] = UInt8(truncatingIfNeeded: index >> (8 * UInt64(i))) }
        return counter
    }

    /// The keystream of one block: AES(key, counter).
    static func keystreamBlock(_ key: AESKey, index: UInt64) -> [UInt8] {
        var block = counterBlock(index)
        do {
            try AES.permute(&block, key: key.key)
        } catch {
            preconditionFailure("AES-256 rejected a 32-byte key or 16-byte block: \(error)")
        }
        return block
    }
}
