#!/usr/bin/env python3
"""An independent devp2p/RLPx peer for Stockade's interoperability tests.

The handshake (ECIES auth/ack, EIP-8 and legacy), the frame codec (AES-CTR + keccak MACs), Hello,
Ping, Pong, Disconnect and snappy all come from trinity's `p2p` package (PyPI trinity 0.1.0a37,
the py-evm project's client), not from Stockade: different language, different crypto libraries
(OpenSSL through `cryptography`, safe-pysha3, python-snappy). This file is only the glue that
drives that library from the command line and reports what happened as JSON lines on stdout.

    rlpx_peer.py listen --key HEX --port P [--caps name/ver,...] [--max-seconds S]
    rlpx_peer.py ping ENODE [--count N] [--key HEX] [--caps ...] [--timeout S] [--eip8]

Run it with the interpreter that ops/peer-venv.sh prints. Only 127.0.0.1 is ever used.
"""

import argparse
import asyncio
import json
import os
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
    from p2p.constants import HASH_LEN, REPLY_TIMEOUT
    from p2p.disconnect import DisconnectReason
    from p2p.handshake import DevP2PHandshakeParams, _do_p2p_handshake
    from p2p.kademlia import Address, Node
    from p2p.multiplexer import stream_transport_messages
    from p2p.p2p_proto import Disconnect, Hello, Ping, Pong
    from p2p.transport import Transport


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


async def run_ping(args: argparse.Namespace) -> int:
    try:
        remote = Node.from_uri(args.enode)
    except Exception as err:
        emit("error", stage="enode", error=f"{type(err).__name__}: {err}")
        return 2
    if remote.address is None or not remote.address.is_loopback:
        emit("error", stage="enode", error="only loopback (127.0.0.0/8) peers are allowed")
        return 2
    try:
        return await asyncio.wait_for(ping_session(args, remote), timeout=args.timeout)
    except asyncio.TimeoutError:
        emit("error", stage="session", error=f"timed out after {args.timeout} s")
        return 1


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

    args = parser.parse_args(argv)
    if args.command == "listen":
        return asyncio.run(run_listen(args))
    if args.key is None:
        args.key = keys.PrivateKey(os.urandom(32))
    if args.count < 0:
        parser.error("--count must be >= 0")
    return asyncio.run(run_ping(args))


if __name__ == "__main__":
    sys.exit(main())
