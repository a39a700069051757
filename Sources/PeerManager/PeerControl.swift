import Control
import DevP2P
import Enode
import Foundation
import IPC
import NIOCore
import NodeConfig

/// The operator's commands that the run loop answers (go-ethereum's Server.AddPeer,
/// RemovePeer, AddTrustedPeer, RemoveTrustedPeer, PeersInfo, and a disconnect by ID).
/// Changes take effect at once; the answer says what happened in words.
extension PeerRunLoop {
    /// The answer to `request` as its reply's JSON (no newline); listings gather from every
    /// link loop, so they come later, a page at a time, each entry encoded once.
    func control(_ request: ControlRequest) -> EventLoopFuture<[UInt8]> {
        eventLoop.preconditionInEventLoop()
        switch request.command {
        case .peers:
            return peerListing(from: request.offset ?? 0).map { [self] infos in
                let (json, next) = Self.page(infos, from: request.offset ?? 0, key: .peers)
                if next == nil { dropPeerListing() }
                return json
            }
        case .sessions:
            return sessionInfos().map { all in
                Self.page(all, from: request.offset ?? 0, key: .sessions).json
            }
        default:
            return eventLoop.makeSucceededFuture(Array(ControlCoding.line(answer(request)).dropLast()))
        }
    }

    private func answer(_ request: ControlRequest) -> ControlReply {
        switch request.command {
        case .peers, .sessions:
            return .failure("\(request.command.rawValue) is answered by control(_:)")
        case .addPeer:
            return withEnode(request) { addStatic($0) }
        case .removePeer:
            return withEnode(request) { removeStatic($0) }
        case .trust:
            return withEnode(request) { url in
                guard peerSetTrust(url.nodeID.bytes, trusted: true) else { return .failure("already trusted: \(url.nodeID.hex.prefix(16))…") }
                return .success(ControlResult(message: "trusted \(url.nodeID.hex.prefix(16))…"))
            }
        case .untrust:
            return withEnode(request) { url in
                guard peerSetTrust(url.nodeID.bytes, trusted: false) else { return .failure("not a trusted node: \(url.nodeID.hex.prefix(16))…") }
                return .success(ControlResult(message: "no longer trusted: \(url.nodeID.hex.prefix(16))…"))
            }
        case .disconnect:
            guard let id = request.id?.lowercased(), !id.isEmpty else { return .failure("disconnect needs a node ID") }
            let reason = DisconnectReason(rawValue: request.reason ?? DisconnectReason.requested.rawValue)
            switch findPeer(id) {
            case .none: return .failure("no such peer: \(id)")
            case .ambiguous(let n): return .failure("ambiguous node ID prefix \(id): \(n) peers match")
            case .one(let nodeID):
                disconnectPeer(nodeID, reason: reason)
                // go-ethereum redials static nodes; say so, so the operator is not surprised.
                let redial = isStaticNode(nodeID) ? "; it is a static node and will be redialed (remove-peer stops that)" : ""
                return .success(ControlResult(message: "disconnecting \(Hex.encode(nodeID).prefix(16))… (\(reason))\(redial)"))
            }
        case .forwards:
            return .success(ControlResult(forwards: router.forwards()))
        case .forwardAdd:
            guard let listen = request.listen, let peer = request.peer, let target = request.target else {
                return .failure("forward-add needs listen, peer and target")
            }
            switch router.addForward(listen: listen, peer: peer, target: target, network: request.network ?? "tcp") {
            case .success(let message): return .success(ControlResult(message: message))
            case .failure(let error): return .failure(error.description)
            }
        case .forwardRemove:
            guard let listen = request.listen else { return .failure("forward-remove needs the listen address") }
            return router.removeForward(listen: listen) ? .success(ControlResult(message: "stopped forwarding \(listen)"))
                : .failure("no forward listens on \(listen)")
        case .status, .enode, .events, .nodes:
            return .failure("\(request.command.rawValue) is answered by the supervisor")
        case .connect:
            // Never forwarded as a request: the supervisor hands the connection over (ConnectStream).
            return .failure("connect comes with its connection (ConnectStream), not as a request")
        }
    }

    /// The reply (JSON, no newline) of the entries from `offset` whose JSON fits one IPC reply
    /// (`IPCLimits.maxControlReplyLength`, with room for the envelope), and where the next
    /// page starts, if there is one. Each entry is encoded once (ControlListing).
    static func page<T: Encodable>(_ all: [T], from offset: Int, key: ControlListing.Key) -> (json: [UInt8], next: Int?) {
        ControlListing.page(all, from: offset, key: key, budget: IPCLimits.maxControlReplyLength - 1024)
    }

    private func withEnode(_ request: ControlRequest, _ body: (EnodeURL) -> ControlReply) -> ControlReply {
        guard let text = request.enode else { return .failure("\(request.command.rawValue) needs an enode URL") }
        do { return body(try EnodeURL(parsing: text)) } catch {
            return .failure("not a valid enode URL: \(error)")
        }
    }

    enum PeerMatch { case none, one([UInt8]), ambiguous(Int) }

    /// A full node ID, or a unique prefix of at least 8 hex digits.
    func findPeer(_ hexPrefix: String) -> PeerMatch {
        guard hexPrefix.count >= 8 else { return .none }
        let matches = liveNodeIDs.filter { Hex.encode($0).hasPrefix(hexPrefix) }
        switch matches.count {
        case 0: return .none
        case 1: return .one(matches[0])
        default: return .ambiguous(matches.count)
        }
    }
}
