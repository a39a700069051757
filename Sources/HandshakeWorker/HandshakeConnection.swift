#if canImport(Glibc)
import Glibc
#endif
import DevP2P
import IPC
import PollLoop
import Secp256k1
import Sockets

/// One connection in a worker's care, from its arrival (or dial) to its handoff or close: the
/// socket, the sans-IO `ConnectionSetup`, bytes waiting to be written, and where it came from.
final class HandshakeConnection {
    enum Origin {
        /// From the acceptor; its slot is freed with HandshakeSlotFreed.
        case inbound
        /// A dial the peer manager asked for; failure is reported with DialFailed.
        case dial(nodeID: [UInt8])
    }

    let id: UInt64
    let fd: Int32
    let origin: Origin
    let remoteAddress: String
    let remotePort: UInt16
    var setup: ConnectionSetup?
    /// Still connecting (dials only): waiting for the socket to become writable.
    var connecting: Bool
    var outbound: [UInt8] = []
    var outboundOffset = 0
    /// Queued bytes (a responder's ack) wait for the post-handshake verdict before any write.
    var holdingOutput = false
    /// The node ID the peer manager reserved for this connection (after CheckPostHandshake).
    var reservedNodeID: [UInt8]?
    /// The add-peer question was asked (so the next verdict answers it).
    var addPeerAsked = false
    /// An established session waiting for its last bytes to be written before handoff.
    var established: EstablishedSession?
    /// Closing after the pending bytes (a Disconnect) are written.
    var closingAfterFlush: SetupFailure?
    var deadline: PollLoopTimerID?
    /// Inbound: the deadline for the peer's first bytes, cancelled when they come.
    var firstBytesDeadline: PollLoopTimerID?

    init(id: UInt64, fd: Int32, origin: Origin, remoteAddress: String, remotePort: UInt16, connecting: Bool) {
        self.id = id
        self.fd = fd
        self.origin = origin
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.connecting = connecting
    }

    var direction: IPCMessage.Direction {
        if case .inbound = origin { return .inbound }
        return .outbound
    }

    var hasPendingOutput: Bool { outboundOffset < outbound.count }

    func queue(_ bytes: [UInt8]) {
        if outboundOffset == outbound.count {
            outbound = bytes
            outboundOffset = 0
        } else {
            outbound += bytes
        }
    }

    /// Writes what the socket takes now. Throws on a broken socket.
    func flush() throws {
        while hasPendingOutput {
            let n = try TCPSocket.writeSome(fd, outbound[outboundOffset...])
            if n == 0 { return }
            outboundOffset += n
        }
        outbound = []
        outboundOffset = 0
    }
}

