#!/usr/bin/env python3
"""An independent devp2p/RLPx peer for Stockade's interoperability tests.

The handshake (ECIES auth/ack, EIP-8 and legacy), the frame codec (AES-CTR + keccak MACs), Hello,
Ping, Pong, Disconnect and snappy all come from trinity's `p2p` package (PyPI trinity 0.1.0a37,
the py-evm project's client), not from Stockade: different language, different crypto libraries
(OpenSSL through `cryptography`, safe-pysha3, python-snappy). This file is only the glue that
drives that library from the command line and reports what happened as JSON lines on stdout.

    rlpx_peer.py listen --key HEX --port P [--caps name/ver,...] [--max-seconds S]
    rlpx_peer.py ping ENODE [--count N] [--key HEX] [--caps ...] [--timeout S] [--eip8]
    rlpx_peer.py mux ENODE [--key HEX] [--echo SERVICE] [--denied SERVICE] [--unknown-session]
                           [--overrun SERVICE] [--timeout S] [--wait S]
    rlpx_peer.py nodeid --key HEX

`mux` speaks Stockade's `stk/1` capability (Mux.Cool frames, ipc/MUX.md) with the codec in
muxcool.py, which is written from MUX.md alone; trinity carries its messages as a sub-protocol.

Run it with the interpreter that ops/peer-venv.sh prints. Only 127.0.0.1 is ever used.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
import types
import warnings
from typing import Any, AsyncIterator, Dict, Optional, Set, Tuple


def _install_compat_shims() -> None:
    """Stubs for two imports the p2p package makes but the transport does not use.

    `p2p/__init__.py` imports py-evm's `eth` package only so that its import side effect (the
    DEBUG2 log level) happens first; py-evm 0.4.0a3 itself does not install on Python 3.11.
    `p2p._utils.get_logger` defers to `trinity._utils.logging.get_logger`, and importing the
    `trinity` package would start uvloop and the whole client; eth-utils' extended logger is
    what that helper wraps, so we hand it over directly.
    """
    import eth_utils
    eth_utils.setup_DEBUG2_logging()
    sys.modules.setdefault("eth", types.ModuleType("eth"))
    trinity_stub = types.ModuleType("trinity")
    trinity_utils_stub = types.ModuleType("trinity._utils")
    trinity_logging_stub = types.ModuleType("trinity._utils.logging")
    trinity_logging_stub.get_logger = eth_utils.get_extended_debug_logger  # type: ignore
    trinity_stub._utils = trinity_utils_stub  # type: ignore
    trinity_utils_stub.logging = trinity_logging_stub  # type: ignore
    sys.modules["trinity"] = trinity_stub
    sys.modules["trinity._utils"] = trinity_utils_stub
    sys.modules["trinity._utils.logging"] = trinity_logging_stub


_install_compat_shims()

# The 2020-era dependencies warn about their own deprecations (trio.MultiError, pkg APIs) at
# import; that noise is not ours to fix and would bury the peer's output on stderr.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from eth_hash.auto import keccak
    from eth_keys import keys

    from p2p import auth
    from p2p.abc import SerializationCodecAPI
    from p2p.commands import BaseCommand
    from p2p.constants import HASH_LEN, REPLY_TIMEOUT
    from p2p.disconnect import DisconnectReason
    from p2p.handshake import DevP2PHandshakeParams, _do_p2p_handshake, _select_capabilities
    from p2p.kademlia import Address, Node
    from p2p.multiplexer import stream_transport_messages
    from p2p.p2p_proto import Disconnect, Hello, Ping, Pong
    from p2p.protocol import BaseProtocol, get_cmd_offsets
    from p2p.transport import Transport

import muxcool


class ObservedTransport(Transport):
    """trinity's Transport, remembering the last frame it decrypted.

    trinity's Hello exchange turns a Disconnect that arrives instead of Hello (go-ethereum sends
    one when it rejects a peer right after the encryption handshake, e.g. TooManyPeers) into a
    HandshakeFailure with the reason only in its text; with the frame kept we can decode the
    reason with trinity's own Disconnect codec and report it as a disconnect event.
    """

    last_message: Optional[Any] = None

    async def recv(self) -> Any:
        message = await super().recv()
        self.last_message = message
        return message


# The client id this peer announces in Hello, so logs on the other side say who it was.
CLIENT_ID = "trinity-p2p/v0.1.0a37/stockade-test-peer"

# Hello and the encryption handshake together must finish within this; go-ethereum's
# handshakeTimeout is 5 s, trinity's HANDSHAKE_TIMEOUT 10 s: we take go-ethereum's so a
# test fails at the same point a real node would give up.
HANDSHAKE_SECONDS = 5.0

# After sending Disconnect, how long to wait for the remote's own Disconnect or close before
# closing ourselves; go-ethereum's disconnect write deadline is 1 s.
DISCONNECT_GRACE_SECONDS = 1.0

# An EIP-8 ack larger than this is refused before it is read; go-ethereum caps handshake
# packets at 2 KiB (go-ethereum PR 30029).
MAX_EIP8_ACK_BYTES = 2048

# The listener serves at most this many connections at once and refuses the rest; a test peer
# needs a few, and a bound keeps a misbehaving dialer from growing the process.
MAX_CONCURRENT_CONNECTIONS = 16


def emit(event: str, **fields: Any) -> None:
    """One JSON object per line on stdout; flushed so a test can read it as it happens."""
    record: Dict[str, Any] = {"event": event}
    record.update(fields)
    try:
        print(json.dumps(record, sort_keys=False), flush=True)
    except BrokenPipeError:
        pass


def parse_caps(text: str) -> Tuple[Tuple[str, int], ...]:
    """'eth/68,snap/1' -> (('eth', 68), ('snap', 1)); '' -> ()."""
    caps = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, version = item.partition("/")
        if not sep or not name or not version.isdigit():
            raise argparse.ArgumentTypeError(f"capability {item!r} is not name/version")
        caps.append((name, int(version)))
    return tuple(caps)


def parse_private_key(text: str) -> keys.PrivateKey:
    raw = text[2:] if text.startswith(("0x", "0X")) else text
    try:
        key_bytes = bytes.fromhex(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("--key must be hex")
    if len(key_bytes) != 32:
        raise argparse.ArgumentTypeError("--key must be 32 bytes (64 hex digits)")
    return keys.PrivateKey(key_bytes)


def parse_reason(text: str) -> DisconnectReason:
    try:
        return DisconnectReason(int(text, 0))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown disconnect reason {text!r}; known: "
            + ", ".join(f"{r.value}={r.name}" for r in DisconnectReason))


def caps_as_strings(caps: Any) -> list:
    return [f"{name}/{version}" for name, version in caps]


def reason_fields(reason: DisconnectReason) -> Dict[str, Any]:
    return {"reason": reason.value, "reason_name": reason.name}


async def p2p_handshake(transport: ObservedTransport, caps: Tuple[Tuple[str, int], ...],
                        listen_port: int, p2p_version: int) -> Tuple[Any, Any]:
    """Trinity's Hello exchange; returns (DevP2PReceipt, base protocol with snappy negotiated)."""
    params = DevP2PHandshakeParams(
        client_version_string=CLIENT_ID, listen_port=listen_port, version=p2p_version)
    ephemeral_protocol = params.get_base_protocol_class()(
        transport, command_id_offset=0, snappy_support=False)
    return await asyncio.wait_for(
        _do_p2p_handshake(transport, caps, params, ephemeral_protocol), timeout=HANDSHAKE_SECONDS)


async def p2p_handshake_or_report(transport: ObservedTransport, caps: Tuple[Tuple[str, int], ...],
                                  listen_port: int, p2p_version: int) -> Optional[Tuple[Any, Any]]:
    """p2p_handshake, or None after reporting why it failed (a Disconnect instead of Hello is
    reported as a disconnect event, then an error)."""
    try:
        return await p2p_handshake(transport, caps, listen_port, p2p_version)
    except Exception as err:
        last = transport.last_message
        if last is not None and last.command_id == Disconnect.protocol_command_id:
            try:
                # Before Hello nothing is compressed, whatever the versions.
                reason = Disconnect.decode(last, snappy_support=False).payload
                emit("disconnect", before_hello=True, **reason_fields(reason))
            except Exception:
                pass
        emit("error", stage="hello", error=f"{type(err).__name__}: {err}")
        return None


def emit_hello(transport: Transport, receipt: Any, protocol: Any) -> None:
    handshake_id = transport.remote.pubkey.to_bytes()
    emit(
        "hello",
        client_id=receipt.client_version_string,
        caps=caps_as_strings(receipt.capabilities),
        version=receipt.version,
        listen_port=receipt.listen_port,
        node_id=receipt.remote_public_key.hex(),
        # devp2p requires Hello's node id to be the key the encryption handshake proved; trinity
        # does not check it, so we report it for the test to assert.
        node_id_matches_handshake=(receipt.remote_public_key == handshake_id),
        snappy=protocol.snappy_support,
    )


async def next_command(messages: AsyncIterator[Tuple[Any, Any]], seconds: float) -> Optional[Any]:
    """The next decoded command, or None when the remote closed the connection."""
    try:
        _, command = await asyncio.wait_for(messages.__anext__(), timeout=seconds)
    except StopAsyncIteration:
        return None
    return command


# --- listen ----------------------------------------------------------------------------------

class Listener:
    def __init__(self, private_key: keys.PrivateKey, caps: Tuple[Tuple[str, int], ...],
                 p2p_version: int, reject: Optional[DisconnectReason]) -> None:
        self.private_key = private_key
        self.caps = caps
        self.p2p_version = p2p_version
        self.reject = reject
        self.port = 0
        self.live: Set[Tuple[Transport, Any]] = set()
        self.tasks: Set[asyncio.Task] = set()

    async def on_connection(self, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if len(self.tasks) >= MAX_CONCURRENT_CONNECTIONS:
            emit("error", stage="accept", error="too many concurrent connections")
            writer.close()
            return
        self.tasks.add(task)
        try:
            await self.serve(reader, writer)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # report and drop this connection, keep listening
            emit("error", stage="session", error=f"{type(err).__name__}: {err}")
        finally:
            self.tasks.discard(task)
            writer.close()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            transport = await asyncio.wait_for(
                ObservedTransport.receive_connection(reader, writer, self.private_key),
                timeout=HANDSHAKE_SECONDS)
        except Exception as err:
            emit("error", stage="handshake", error=f"{type(err).__name__}: {err}")
            return
        emit("handshake", remote_id=transport.remote.pubkey.to_bytes().hex())
        if self.reject is not None:
            # What go-ethereum does when a check after the encryption handshake fails
            # (TooManyPeers, AlreadyConnected, Self): a Disconnect in place of Hello, then close.
            base = DevP2PHandshakeParams(CLIENT_ID, self.port, self.p2p_version)
            base.get_base_protocol_class()(transport, 0, False).send(Disconnect(self.reject))
            emit("sent_disconnect", before_hello=True, **reason_fields(self.reject))
            await transport.close()
            return
        negotiated = await p2p_handshake_or_report(transport, self.caps, self.port,
                                                   self.p2p_version)
        if negotiated is None:
            await transport.close()
            return
        receipt, protocol = negotiated
        emit_hello(transport, receipt, protocol)

        session = (transport, protocol)
        self.live.add(session)
        try:
            # trinity's own reader: it times out after CONN_IDLE_TIMEOUT (30 s) of silence.
            async for _, command in stream_transport_messages(transport, protocol):
                if isinstance(command, Ping):
                    emit("ping")
                    protocol.send(Pong(None))
                elif isinstance(command, Pong):
                    emit("pong")
                elif isinstance(command, Disconnect):
                    emit("disconnect", **reason_fields(command.payload))
                    break
                elif isinstance(command, Hello):
                    emit("error", stage="session", error="second Hello")
                    protocol.send(Disconnect(DisconnectReason.BAD_PROTOCOL))
                    break
            else:
                emit("closed")
        finally:
            self.live.discard(session)
            await transport.close()

    def say_goodbye(self) -> None:
        """Disconnect(ClientQuitting) to every live session, as a node does when it stops."""
        for transport, protocol in list(self.live):
            if not transport.is_closing:
                try:
                    protocol.send(Disconnect(DisconnectReason.CLIENT_QUITTING))
                except Exception:
                    pass


async def run_listen(args: argparse.Namespace) -> int:
    listener = Listener(args.key, args.caps, args.p2p_version, args.reject)
    server = await asyncio.start_server(listener.on_connection, host="127.0.0.1", port=args.port)
    listener.port = server.sockets[0].getsockname()[1]
    node = Node.from_pubkey_and_addr(
        args.key.public_key, Address("127.0.0.1", listener.port, listener.port))
    emit("listening", enode=node.uri(), port=listener.port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    why = {"reason": "max-seconds"}

    def on_signal(name: str) -> None:
        why["reason"] = name
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig.name)
    try:
        await asyncio.wait_for(stop.wait(), timeout=args.max_seconds)
    except asyncio.TimeoutError:
        pass

    server.close()
    listener.say_goodbye()
    await asyncio.sleep(0.1)  # let the Disconnect frames reach the socket before closing
    for task in list(listener.tasks):
        task.cancel()
    await asyncio.gather(*listener.tasks, return_exceptions=True)
    emit("exit", reason=why["reason"])
    return 0


# --- ping ------------------------------------------------------------------------------------

async def connect_eip8(remote: Node, private_key: keys.PrivateKey) -> Transport:
    """Dial with an EIP-8 auth message, which trinity can build but its dialer never sends.

    trinity's `auth.handshake` hard-codes the legacy auth and reads at most 210 bytes of ack, so
    it cannot receive an EIP-8 ack. Every cryptographic step below is still trinity's
    (HandshakeInitiator, its EIP-8 encoder and decoder, derive_secrets); only the reading of a
    length-prefixed ack is ours.
    """
    initiator = auth.HandshakeInitiator(remote, private_key, use_eip8=True)
    reader, writer = await initiator.connect()
    try:
        initiator_nonce = keccak(os.urandom(HASH_LEN))
        auth_init = initiator.encrypt_auth_message(initiator.create_auth_message(initiator_nonce))
        writer.write(auth_init)
        prefix = await asyncio.wait_for(reader.readexactly(2), timeout=REPLY_TIMEOUT)
        size = int.from_bytes(prefix, "big")
        if size > MAX_EIP8_ACK_BYTES:
            raise ValueError(f"EIP-8 ack of {size} bytes exceeds {MAX_EIP8_ACK_BYTES}")
        body = await asyncio.wait_for(reader.readexactly(size), timeout=REPLY_TIMEOUT)
        auth_ack = prefix + body
        ephemeral_pubkey, responder_nonce = initiator.decode_auth_ack_message(auth_ack)
        aes_secret, mac_secret, egress_mac, ingress_mac = initiator.derive_secrets(
            initiator_nonce, responder_nonce, ephemeral_pubkey, auth_init, auth_ack)
    except BaseException:
        writer.close()
        raise
    return ObservedTransport(remote=remote, private_key=private_key, reader=reader, writer=writer,
                     aes_secret=aes_secret, mac_secret=mac_secret,
                     egress_mac=egress_mac, ingress_mac=ingress_mac)


async def ping_session(args: argparse.Namespace, remote: Node) -> int:
    emit("dialing", enode=remote.uri(), auth="eip8" if args.eip8 else "legacy")
    try:
        if args.eip8:
            transport = await asyncio.wait_for(
                connect_eip8(remote, args.key), timeout=HANDSHAKE_SECONDS)
        else:
            transport = await asyncio.wait_for(
                ObservedTransport.connect(remote, args.key), timeout=HANDSHAKE_SECONDS)
    except Exception as err:
        emit("error", stage="handshake", error=f"{type(err).__name__}: {err}")
        return 1
    emit("handshake", remote_id=transport.remote.pubkey.to_bytes().hex())

    try:
        negotiated = await p2p_handshake_or_report(transport, args.caps, 0, args.p2p_version)
        if negotiated is None:
            return 1
        receipt, protocol = negotiated
        emit_hello(transport, receipt, protocol)

        messages = stream_transport_messages(transport, protocol)
        for seq in range(args.count):
            started = time.monotonic()
            protocol.send(Ping(None))
            while True:
                command = await next_command(messages, args.timeout)
                if command is None:
                    emit("error", stage="ping", seq=seq, error="connection closed")
                    return 1
                if isinstance(command, Pong):
                    emit("pong", seq=seq, rtt_ms=round((time.monotonic() - started) * 1000, 3))
                    break
                if isinstance(command, Ping):  # the remote's keep-alive: answer and keep waiting
                    emit("ping")
                    protocol.send(Pong(None))
                elif isinstance(command, Disconnect):
                    emit("disconnect", **reason_fields(command.payload))
                    emit("error", stage="ping", seq=seq, error="remote disconnected")
                    return 1
                else:
                    emit("error", stage="ping", seq=seq, error=f"unexpected {command!r}")
                    return 1

        protocol.send(Disconnect(DisconnectReason.DISCONNECT_REQUESTED))
        emit("sent_disconnect", **reason_fields(DisconnectReason.DISCONNECT_REQUESTED))
        # The remote may answer with its own Disconnect or just close; either is fine.
        try:
            command = await next_command(messages, DISCONNECT_GRACE_SECONDS)
            if isinstance(command, Disconnect):
                emit("disconnect", **reason_fields(command.payload))
        except (asyncio.TimeoutError, Exception):
            pass
        emit("done", pings=args.count)
        return 0
    finally:
        await transport.close()


def loopback_node(enode: str) -> Optional[Node]:
    """The enode URL's node when it is on loopback (the tests touch nothing else); else an
    error event and None."""
    try:
        remote = Node.from_uri(enode)
    except Exception as err:
        emit("error", stage="enode", error=f"{type(err).__name__}: {err}")
        return None
    if remote.address is None or not remote.address.is_loopback:
        emit("error", stage="enode", error="only loopback (127.0.0.0/8) peers are allowed")
        return None
    return remote


async def run_ping(args: argparse.Namespace) -> int:
    remote = loopback_node(args.enode)
    if remote is None:
        return 2
    try:
        return await asyncio.wait_for(ping_session(args, remote), timeout=args.timeout)
    except asyncio.TimeoutError:
        emit("error", stage="session", error=f"timed out after {args.timeout} s")
        return 1


# --- mux (stk/1) -----------------------------------------------------------------------------

class RawBytesCodec(SerializationCodecAPI):
    """stk/1 payloads are raw bytes, not RLP (MUX.md "Negotiation and messages")."""

    def encode(self, payload: bytes) -> bytes:
        return bytes(payload)

    def decode(self, data: bytes) -> bytes:
        return bytes(data)


class StkFrames(BaseCommand):
    """Relative id 0x00: Mux.Cool frames back to back."""
    protocol_command_id = muxcool.MSG_FRAMES
    serialization_codec = RawBytesCodec()


class StkWindowUpdate(BaseCommand):
    """Relative id 0x01: 6-byte entries (session u16, increment u32)."""
    protocol_command_id = muxcool.MSG_WINDOW_UPDATE
    serialization_codec = RawBytesCodec()


# 0x02..0x0f are reserved: a peer must not send them, but trinity needs a command type for every
# id of the capability to read one, so that we can report it rather than crash on it.
STK_RESERVED = tuple(
    type(f"StkReserved{cid:02x}", (BaseCommand,),
         {"protocol_command_id": cid, "serialization_codec": RawBytesCodec()})
    for cid in range(2, muxcool.MESSAGE_IDS))


class StkProtocol(BaseProtocol):
    """Stockade's capability as a trinity sub-protocol: 16 message ids from its offset."""
    name = "stk"
    version = 1
    commands = (StkFrames, StkWindowUpdate) + STK_RESERVED
    command_length = muxcool.MESSAGE_IDS


def small_hex(payload: bytes) -> Dict[str, str]:
    """The payload in hex when it is short enough to quote in a report."""
    return {"hex": payload.hex()} if len(payload) <= 64 else {}


class MuxLinkError(Exception):
    """The link failed (closed, disconnected, malformed input) while a check waited on it."""


class MuxLink:
    """One RLPx link speaking stk/1: a reader task that sorts incoming frames per session, keeps
    this side's receive windows (returning consumed bytes at half the window, never growing it)
    and the send credit the exit grants; the checks await frames from it."""

    def __init__(self, transport: Transport, base: Any, stk: StkProtocol, wait: float) -> None:
        self.transport = transport
        self.base = base
        self.stk = stk
        self.wait = wait
        self.queues: Dict[int, asyncio.Queue] = {}
        self.credit: Dict[int, int] = {}              # session -> bytes we may still send
        self.increments: Dict[int, int] = {}          # session -> sum of the exit's increments
        self.received: Dict[int, int] = {}            # session -> data bytes received
        self.our_window: Dict[int, int] = {}          # session -> our receive window's end
        self.unreturned: Dict[int, int] = {}          # session -> consumed, not yet returned
        self.no_updates: Set[int] = set()             # sessions we no longer send updates for
        self.updates_sent: Dict[int, int] = {}
        self.violations: list = []                    # the exit's breaches of MUX.md
        self.credit_changed = asyncio.Event()
        self.pongs: asyncio.Queue = asyncio.Queue()
        self.failure: Optional[str] = None
        self.failed = asyncio.Event()
        self.closing = False  # we sent Disconnect: the close that follows is no failure
        self.reader: Optional[asyncio.Task] = None

    # reading

    def start(self) -> None:
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for _, command in stream_transport_messages(self.transport, self.base, self.stk):
                if isinstance(command, Ping):
                    self.base.send(Pong(None))
                elif isinstance(command, Pong):
                    self.pongs.put_nowait(time.monotonic())
                elif isinstance(command, Disconnect):
                    emit("disconnect", **reason_fields(command.payload))
                    self._fail(f"remote disconnected: {command.payload.name}")
                    return
                elif isinstance(command, StkFrames):
                    self._on_frames(command.payload)
                elif isinstance(command, StkWindowUpdate):
                    self._on_window_update(command.payload)
                elif isinstance(command, STK_RESERVED):
                    self._violation(f"reserved stk message id 0x{command.protocol_command_id:02x}")
                    self._fail("reserved message id")
                    return
                else:
                    self._fail(f"unexpected message {command!r}")
                    return
            self._fail("connection closed")
        except asyncio.CancelledError:
            raise
        except muxcool.Malformed as err:
            self._violation(f"malformed: {err}")
            self._fail(f"malformed payload from the exit: {err}")
        except Exception as err:
            self._fail(f"{type(err).__name__}: {err}")

    def _fail(self, why: str) -> None:
        if self.failure is None:
            self.failure = why
            if not self.closing:
                emit("mux_link_failed", why=why)
        self.failed.set()
        self.credit_changed.set()

    def _violation(self, what: str) -> None:
        self.violations.append(what)
        emit("mux_violation", what=what)

    def _on_frames(self, payload: bytes) -> None:
        frames = muxcool.decode_frames(payload)
        emit("mux_recv", message="Frames", bytes=len(payload),
             frames=[frame.describe() for frame in frames], **small_hex(payload))
        updates = []
        for frame in frames:
            if frame.status == muxcool.KEEPALIVE:
                continue
            if frame.data:
                self._account_received(frame, updates)
            if frame.fin or frame.status == muxcool.END:
                self.no_updates.add(frame.session)
            self.queue(frame.session).put_nowait(frame)
        if updates:
            self.send_window_update(updates)

    def _account_received(self, frame: muxcool.Frame, updates: list) -> None:
        session = frame.session
        self.received[session] = self.received.get(session, 0) + len(frame.data)
        window_end = self.our_window.setdefault(session, muxcool.INITIAL_WINDOW)
        if self.received[session] > window_end:
            self._violation(f"session {session}: {self.received[session]} bytes received, "
                            f"past our window of {window_end}")
        if session in self.no_updates:
            return
        # We consume at once; return the bytes once they reach half our (fixed) window.
        self.unreturned[session] = self.unreturned.get(session, 0) + len(frame.data)
        if self.unreturned[session] >= muxcool.INITIAL_WINDOW // 2:
            updates.append((session, self.unreturned[session]))
            self.our_window[session] += self.unreturned[session]
            self.unreturned[session] = 0

    def _on_window_update(self, payload: bytes) -> None:
        entries = muxcool.decode_window_update(payload)
        emit("mux_recv", message="WindowUpdate", entries=[list(e) for e in entries],
             **small_hex(payload))
        for session, increment in entries:
            self.increments[session] = self.increments.get(session, 0) + increment
            self.credit[session] = self.credit.get(session, muxcool.INITIAL_WINDOW) + increment
        self.credit_changed.set()

    def queue(self, session: int) -> asyncio.Queue:
        return self.queues.setdefault(session, asyncio.Queue())

    async def next_frame(self, session: int, seconds: Optional[float] = None) -> muxcool.Frame:
        """The next frame the exit sent on `session`; MuxLinkError on timeout or link failure."""
        queue = self.queue(session)
        if queue.empty() and self.failure is not None:
            raise MuxLinkError(self.failure)
        getter = asyncio.ensure_future(queue.get())
        failed = asyncio.ensure_future(self.failed.wait())
        try:
            done, _ = await asyncio.wait({getter, failed}, timeout=seconds or self.wait,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            failed.cancel()
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.failure is not None:
            raise MuxLinkError(self.failure)
        raise MuxLinkError(f"nothing on session {session} within {seconds or self.wait} s")

    def pending(self, session: int) -> list:
        """Frames already received on `session` and not yet taken."""
        queue = self.queue(session)
        frames = []
        while not queue.empty():
            frames.append(queue.get_nowait())
        return frames

    # writing

    def send_frames(self, frames: list) -> None:
        for payload in muxcool.pack_messages(frames):
            emit("mux_sent", message="Frames", bytes=len(payload),
                 frames=[frame.describe() for frame in muxcool.decode_frames(payload)],
                 **small_hex(payload))
            self.stk.send(StkFrames(payload))
        for frame in frames:
            if frame.status == muxcool.END:  # no window update after our End
                self.no_updates.add(frame.session)

    def send_window_update(self, entries: list) -> None:
        payload = muxcool.encode_window_update(entries)
        emit("mux_sent", message="WindowUpdate", entries=[list(e) for e in entries])
        for session, increment in entries:
            self.updates_sent[session] = self.updates_sent.get(session, 0) + increment
        self.stk.send(StkWindowUpdate(payload))

    async def drain(self) -> None:
        await self.transport._writer.drain()

    def open(self, session: int, target: muxcool.Target, first: bytes = b"") -> None:
        """New with at most one chunk of data; it counts against the exit's window for us."""
        self.credit[session] = muxcool.INITIAL_WINDOW - len(first)
        self.send_frames([muxcool.Frame.new(session, target, first)])

    async def send_data(self, session: int, data: bytes, fin: bool = False) -> None:
        """Keeps within the credit the exit granted, 16 KiB per frame, 64 KiB per message."""
        at = 0
        while at < len(data):
            credit = self.credit.setdefault(session, muxcool.INITIAL_WINDOW)
            if credit <= 0:
                self.credit_changed.clear()
                try:
                    await asyncio.wait_for(self.credit_changed.wait(), timeout=self.wait)
                except asyncio.TimeoutError:
                    raise MuxLinkError(f"session {session}: no window update within {self.wait} s "
                                       f"with {len(data) - at} bytes left to send")
                if self.failure is not None:
                    raise MuxLinkError(self.failure)
                continue
            batch = data[at:at + min(credit, muxcool.MESSAGE_SIZE - 64)]
            frames = [muxcool.Frame.keep(session, chunk) for chunk in muxcool.chunks(batch)]
            self.credit[session] -= len(batch)
            at += len(batch)
            if fin and at == len(data):
                frames[-1] = muxcool.Frame.keep(session, frames[-1].data, fin=True)
            self.send_frames(frames)
            await self.drain()
        if fin and not data:
            self.send_frames([muxcool.Frame.keep(session, fin=True)])
            await self.drain()

    async def ping(self) -> float:
        """A devp2p Ping and its Pong: the link is up. Returns the round trip in ms."""
        while not self.pongs.empty():
            self.pongs.get_nowait()
        started = time.monotonic()
        self.base.send(Ping(None))
        getter = asyncio.ensure_future(self.pongs.get())
        failed = asyncio.ensure_future(self.failed.wait())
        try:
            done, _ = await asyncio.wait({getter, failed}, timeout=self.wait,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            failed.cancel()
        if getter not in done:
            getter.cancel()
            raise MuxLinkError(self.failure or f"no Pong within {self.wait} s")
        return round((getter.result() - started) * 1000, 3)


class CheckFailed(Exception):
    pass


def expect(condition: bool, why: str) -> None:
    if not condition:
        raise CheckFailed(why)


def describe_frame(frame: muxcool.Frame) -> str:
    return json.dumps(frame.describe(), sort_keys=False)


async def echo_round(link: MuxLink, session: int, service: str, data: bytes) -> Dict[str, Any]:
    """New (first chunk) -> ack Keep -> the rest within the window -> Keep+Fin; the exit must
    echo every byte in order, then Keep+Fin, then End; we answer with End."""
    first, rest = data[:muxcool.CHUNK], data[muxcool.CHUNK:]
    link.open(session, muxcool.Target.service(service), first)
    await link.drain()
    ack = await link.next_frame(session)
    if ack.status == muxcool.END:
        raise CheckFailed(f"open refused: {describe_frame(ack)}")
    expect(ack.status == muxcool.KEEP, f"first answer is not a Keep: {describe_frame(ack)}")
    echoed = bytearray(ack.data)
    fin_seen = ack.fin
    end: Optional[muxcool.Frame] = None
    order_problems = []

    async def sender() -> None:
        await link.send_data(session, rest)
        await link.send_data(session, b"", fin=True)

    sending = asyncio.ensure_future(sender())
    try:
        while end is None:
            frame = await link.next_frame(session)
            if frame.status == muxcool.END:
                end = frame
                break
            expect(frame.status == muxcool.KEEP, f"unexpected frame {describe_frame(frame)}")
            if fin_seen and frame.data:
                order_problems.append("data after the exit's Fin")
            if fin_seen and frame.fin:
                order_problems.append("a second Fin")
            echoed += frame.data
            fin_seen = fin_seen or frame.fin
        await asyncio.wait_for(sending, timeout=link.wait)
    finally:
        sending.cancel()
    expect(not end.error, f"session ended with Error: {describe_frame(end)}")
    expect(fin_seen, "the exit sent End without Fin first")
    expect(not order_problems, "; ".join(order_problems))
    expect(bytes(echoed) == data,
           f"echo differs: sent {len(data)} bytes, got {len(echoed)}"
           + ("" if len(echoed) != len(data) else " (same length, other bytes)"))
    link.send_frames([muxcool.Frame.end(session)])
    await link.drain()
    return {"bytes": len(data), "ack_carried_data": bool(ack.data),
            "exit_increments": link.increments.get(session, 0),
            "our_updates": link.updates_sent.get(session, 0)}


async def check_echo(link: MuxLink, service: str, size: int, seed: int) -> Dict[str, Any]:
    """(1) a full session life on an echo service, twice on the same ID (reused after both
    Ends), the first with `size` bytes so both directions' windows must be updated."""
    session = 1
    pattern = random.Random(seed).randbytes(size)
    first = await echo_round(link, session, service, pattern)
    rtt = await link.ping()  # anything the exit still had for the session came before the Pong
    leftovers = link.pending(session)
    expect(not leftovers, "frames after both Ends: " + ", ".join(map(describe_frame, leftovers)))
    link.increments.pop(session, None)
    link.updates_sent.pop(session, None)
    for table in (link.credit, link.received, link.our_window, link.unreturned):
        table.pop(session, None)
    link.no_updates.discard(session)
    again = await echo_round(link, session, service, b"same id again")
    await link.ping()
    expect(not link.pending(session), "frames after the second pair of Ends")
    return {"first": first, "second": again, "rtt_ms": rtt, "seed": seed}


async def check_denied(link: MuxLink, service: str) -> Dict[str, Any]:
    """(3) New for a service the exit does not allow us: End+Error(0x02 notAllowed)."""
    session = 3
    link.open(session, muxcool.Target.service(service))
    await link.drain()
    answer = await link.next_frame(session)
    expect(answer.status == muxcool.END and answer.error,
           f"expected End+Error, got {describe_frame(answer)}")
    expect(answer.error_code == 0x02,
           f"expected error code 0x02 notAllowed, got {describe_frame(answer)}")
    link.send_frames([muxcool.Frame.end(session)])
    await link.drain()
    await link.ping()
    leftovers = link.pending(session)
    expect(not leftovers, "more after the refusal: " + ", ".join(map(describe_frame, leftovers)))
    return {"error_code": answer.error_code}


async def check_unknown_session(link: MuxLink) -> Dict[str, Any]:
    """(4) Keeps for a session that was never opened: one End+Error(0x84) for the ID, however
    many Keeps were in the message; our End for it is ignored (nothing answers it)."""
    session = 7
    link.send_frames([muxcool.Frame.keep(session, b"who?"), muxcool.Frame.keep(session, b"me")])
    await link.drain()
    answer = await link.next_frame(session)
    expect(answer.status == muxcool.END and answer.error,
           f"expected End+Error, got {describe_frame(answer)}")
    expect(answer.error_code == 0x84,
           f"expected error code 0x84 unknownSession, got {describe_frame(answer)}")
    await link.ping()
    extra = link.pending(session)
    expect(not extra, "more than one answer for two Keeps in one message: "
           + ", ".join(map(describe_frame, extra)))
    link.send_frames([muxcool.Frame.end(session)])
    await link.drain()
    await link.ping()
    extra = link.pending(session)
    expect(not extra, "our End for the unknown ID was answered: "
           + ", ".join(map(describe_frame, extra)))
    return {"error_code": answer.error_code}


# Past the window by this much before we stop pushing and wait for the verdict; and a hard cap
# on what the overrun check sends at all, should the exit keep opening the window.
OVERRUN_MARGIN = 64 * 1024
OVERRUN_CAP = 32 * 1024 * 1024


async def check_overrun(link: MuxLink, service: str, other: Optional[str]) -> Dict[str, Any]:
    """(5) Keeps past the window on a session whose target does not read: End+Error(0x83) for
    that session only; a second session (on `other`) still echoes and the link answers Ping."""
    session, bystander = 5, 9
    if other:
        link.open(bystander, muxcool.Target.service(other), b"before")
        await link.drain()
        ack = await link.next_frame(bystander)
        expect(ack.status == muxcool.KEEP, f"bystander open failed: {describe_frame(ack)}")
        got = bytearray(ack.data)
        while len(got) < len(b"before"):
            got += (await link.next_frame(bystander)).data
        expect(bytes(got) == b"before", f"bystander echoed {bytes(got)!r}")
    link.open(session, muxcool.Target.service(service))
    await link.drain()
    ack = await link.next_frame(session)
    expect(ack.status == muxcool.KEEP, f"open of the stalled target failed: {describe_frame(ack)}")

    sent = 0
    verdict: Optional[muxcool.Frame] = None
    block = os.urandom(muxcool.CHUNK)
    frames_per_message = muxcool.MESSAGE_SIZE // (muxcool.CHUNK + 8)
    while sent < OVERRUN_CAP:
        waiting = link.pending(session)
        if waiting:
            verdict = waiting[0]
            break
        if link.failure is not None:
            raise MuxLinkError(link.failure)
        limit = muxcool.INITIAL_WINDOW + link.increments.get(session, 0) + OVERRUN_MARGIN
        if sent >= limit:
            # Wait for the verdict in short slices: a window update may be on its way (the exit
            # returns what its target's socket took), and if one arrives the window is not
            # overrun yet, so send more and look again. Without one, wait up to link.wait.
            granted = link.increments.get(session, 0)
            deadline = asyncio.get_running_loop().time() + link.wait
            while verdict is None and link.increments.get(session, 0) == granted:
                try:
                    verdict = await link.next_frame(session, seconds=0.5)
                except MuxLinkError:
                    if link.failure is not None:
                        raise
                    if asyncio.get_running_loop().time() > deadline:
                        raise CheckFailed(f"no answer after {sent} bytes sent, {granted} bytes of increments")
            if verdict is not None:
                break
            continue
        link.send_frames([muxcool.Frame.keep(session, block)] * frames_per_message)
        sent += len(block) * frames_per_message
        await link.drain()
        await asyncio.sleep(0)
    expect(verdict is not None, f"{sent} bytes sent (the cap) and the exit kept the session")
    expect(verdict.status == muxcool.END and verdict.error,
           f"expected End+Error, got {describe_frame(verdict)}")
    expect(verdict.error_code == 0x83,
           f"expected error code 0x83 flowControl, got {describe_frame(verdict)}")
    link.send_frames([muxcool.Frame.end(session)])
    await link.drain()
    rtt = await link.ping()
    extra = link.pending(session)
    expect(not extra, "more for the aborted session: " + ", ".join(map(describe_frame, extra)))
    result = {"sent": sent, "exit_increments": link.increments.get(session, 0),
              "error_code": verdict.error_code, "rtt_ms": rtt}
    if other:
        link.send_frames([muxcool.Frame.keep(bystander, b" and after", fin=True)])
        await link.drain()
        got = bytearray()
        end = None
        while end is None:
            frame = await link.next_frame(bystander)
            if frame.status == muxcool.END:
                end = frame
            got += frame.data
        expect(not end.error, f"bystander ended with Error: {describe_frame(end)}")
        expect(bytes(got) == b" and after", f"bystander echoed {bytes(got)!r} after the abort")
        link.send_frames([muxcool.Frame.end(bystander)])
        await link.drain()
        result["bystander"] = "echoed and closed"
    return result


async def mux_session(args: argparse.Namespace, remote: Node) -> int:
    emit("dialing", enode=remote.uri(), auth="legacy")
    try:
        transport = await asyncio.wait_for(
            ObservedTransport.connect(remote, args.key), timeout=HANDSHAKE_SECONDS)
    except Exception as err:
        emit("error", stage="handshake", error=f"{type(err).__name__}: {err}")
        return 1
    emit("handshake", remote_id=transport.remote.pubkey.to_bytes().hex())
    link: Optional[MuxLink] = None
    try:
        caps = (StkProtocol.as_capability(),)
        negotiated = await p2p_handshake_or_report(transport, caps, 0, args.p2p_version)
        if negotiated is None:
            return 1
        receipt, base = negotiated
        emit_hello(transport, receipt, base)
        shared = tuple(_select_capabilities(receipt.capabilities, caps))
        if shared != caps:
            emit("error", stage="hello", error=f"stk/1 not shared; remote offers "
                 f"{caps_as_strings(receipt.capabilities)}")
            return 1
        (offset,) = get_cmd_offsets((StkProtocol,))
        stk = StkProtocol(transport, offset, base.snappy_support)
        emit("mux_ready", offset=offset, snappy=base.snappy_support)
        link = MuxLink(transport, base, stk, args.wait)
        link.start()
        if args.settle_ping:
            # A Ping/Pong before the first stk message: the exit has taken the link over.
            emit("settled", rtt_ms=await link.ping())

        checks = []
        if args.echo:
            checks.append(("echo", lambda: check_echo(link, args.echo, args.echo_bytes, args.seed)))
        if args.denied:
            checks.append(("denied", lambda: check_denied(link, args.denied)))
        if args.unknown_session:
            checks.append(("unknown-session", lambda: check_unknown_session(link)))
        if args.overrun:
            checks.append(("overrun", lambda: check_overrun(link, args.overrun, args.echo)))
        failures = 0
        for name, run in checks:
            try:
                details = await run()
                if link.violations:
                    raise CheckFailed("exit broke MUX.md: " + "; ".join(link.violations))
                details["pong_after"] = await link.ping()
                emit("check", name=name, ok=True, **details)
            except (CheckFailed, MuxLinkError) as err:
                failures += 1
                emit("check", name=name, ok=False, why=str(err))
                if link.failure is not None:
                    break
            link.violations.clear()
        if link.failure is None:
            link.closing = True
            base.send(Disconnect(DisconnectReason.DISCONNECT_REQUESTED))
            emit("sent_disconnect", **reason_fields(DisconnectReason.DISCONNECT_REQUESTED))
            await asyncio.sleep(0.05)
        emit("done", checks=len(checks), failed=failures)
        return 0 if failures == 0 else 1
    finally:
        if link is not None and link.reader is not None:
            link.reader.cancel()
            await asyncio.gather(link.reader, return_exceptions=True)
        await transport.close()


async def run_mux(args: argparse.Namespace) -> int:
    remote = loopback_node(args.enode)
    if remote is None:
        return 2
    failed_links = 0
    for round_number in range(args.repeat):
        if args.repeat > 1:
            emit("link", number=round_number + 1, of=args.repeat)
        try:
            code = await asyncio.wait_for(mux_session(args, remote), timeout=args.timeout)
        except asyncio.TimeoutError:
            emit("error", stage="session", error=f"timed out after {args.timeout} s")
            code = 1
        failed_links += code != 0
    if args.repeat > 1:
        emit("summary", links=args.repeat, failed=failed_links)
    return 0 if failed_links == 0 else 1


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--caps", type=parse_caps, default=(),
                         help="capabilities to announce in Hello, e.g. eth/68,snap/1 (default none)")
        sub.add_argument("--p2p-version", type=int, choices=(4, 5), default=5,
                         help="base protocol version in Hello; 5 enables snappy (default 5)")

    listen = commands.add_parser("listen", help="accept RLPx connections on 127.0.0.1")
    listen.add_argument("--key", type=parse_private_key, required=True, help="node key, 32 bytes hex")
    listen.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    listen.add_argument("--max-seconds", type=float, default=30.0, help="exit after this (default 30)")
    listen.add_argument("--reject", type=parse_reason, default=None, metavar="REASON",
                        help="answer every handshake with Disconnect(REASON) instead of Hello")
    common(listen)

    ping = commands.add_parser("ping", help="dial ENODE, Hello, ping N times, Disconnect")
    ping.add_argument("enode")
    ping.add_argument("--count", type=int, default=1)
    ping.add_argument("--key", type=parse_private_key, default=None,
                      help="node key, 32 bytes hex (default: a fresh random key)")
    ping.add_argument("--timeout", type=float, default=10.0,
                      help="bound on the whole session and on each wait (default 10)")
    ping.add_argument("--eip8", action="store_true",
                      help="send an EIP-8 auth (trinity's dialer sends the legacy one)")
    common(ping)

    mux = commands.add_parser(
        "mux", help="dial ENODE with stk/1 and run Mux.Cool checks against its exit (ipc/MUX.md)")
    mux.add_argument("enode")
    mux.add_argument("--key", type=parse_private_key, default=None,
                     help="node key, 32 bytes hex (the exit's [[allow]] names its node ID)")
    mux.add_argument("--echo", metavar="SERVICE",
                     help="check a whole session life on an echo service (and reuse its ID)")
    mux.add_argument("--echo-bytes", type=int, default=300 * 1024,
                     help="bytes for the echo check; past 256 KiB both windows must move")
    mux.add_argument("--seed", type=int, default=None,
                     help="seed of the echo check's bytes (default random; the check reports it)")
    mux.add_argument("--denied", metavar="SERVICE",
                     help="check that a New for this service is refused with End+Error 0x02")
    mux.add_argument("--unknown-session", action="store_true",
                     help="check that Keeps for a session never opened get one End+Error 0x84")
    mux.add_argument("--overrun", metavar="SERVICE",
                     help="check that data past the window to this non-reading service gets "
                          "End+Error 0x83 while the link (and the --echo service) stay up")
    mux.add_argument("--timeout", type=float, default=60.0,
                     help="bound on each link's run (default 60)")
    mux.add_argument("--wait", type=float, default=5.0, help="bound on each wait (default 5)")
    mux.add_argument("--p2p-version", type=int, choices=(4, 5), default=5,
                     help="base protocol version in Hello; 5 enables snappy (default 5)")
    mux.add_argument("--settle-ping", action="store_true",
                     help="one Ping/Pong after Hello before the first stk message")
    mux.add_argument("--repeat", type=int, default=1,
                     help="run the checks over this many links, one after another (default 1)")

    nodeid = commands.add_parser("nodeid", help="print the node ID (uncompressed public key "
                                 "without 0x04, as enode URLs show it) of a key")
    nodeid.add_argument("--key", type=parse_private_key, required=True)

    args = parser.parse_args(argv)
    if args.command == "listen":
        return asyncio.run(run_listen(args))
    if args.command == "nodeid":
        print(args.key.public_key.to_bytes().hex())
        return 0
    if args.key is None:
        args.key = keys.PrivateKey(os.urandom(32))
    if args.command == "mux":
        if not (args.echo or args.denied or args.unknown_session or args.overrun):
            parser.error("mux: name at least one check")
        if args.seed is None:
            args.seed = int.from_bytes(os.urandom(4), "big")
        if not 1 <= args.repeat <= 100:
            parser.error("--repeat must be 1..100")
        if not 1 <= args.echo_bytes <= 16 * 1024 * 1024:
            parser.error("--echo-bytes must be 1..16 MiB")
        return asyncio.run(run_mux(args))
    if args.count < 0:
        parser.error("--count must be >= 0")
    return asyncio.run(run_ping(args))


if __name__ == "__main__":
    sys.exit(main())
