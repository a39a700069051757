"""Checks that the independent peer is a faithful RLPx implementation before we trust it.

Two parts:
  * VectorTests: trinity's handshake, frame and Hello code (the code rlpx_peer.py drives) against
    the published vectors in ../shared/vectors (EIP-8, go-ethereum, pydevp2p). A peer that only
    agrees with itself would prove nothing about Stockade; this pins it to the specs.
  * SelfInteropTests: two real processes, `rlpx_peer.py listen` and `rlpx_peer.py ping`, talk
    over 127.0.0.1 with every dial variant the peer offers.

Run with the venv from ops/peer-venv.sh:
    "$(ops/peer-venv.sh)" -m unittest discover -s Tests/peers -v
STOCKADE_VECTORS overrides the vector directory (as for the Swift tests).
"""

import asyncio
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import unittest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import rlpx_peer  # noqa: E402  (installs the import shims before any p2p import)
import muxcool  # noqa: E402

from eth_keys import keys  # noqa: E402
from p2p import auth  # noqa: E402
from p2p.commands import SnappyCodec  # noqa: E402
from p2p.constants import RLPX_HEADER_DATA  # noqa: E402
from p2p.kademlia import Address, Node  # noqa: E402
from p2p.message import Message  # noqa: E402
from p2p.p2p_proto import Hello  # noqa: E402
from p2p.transport import Transport  # noqa: E402

PEER_SCRIPT = HERE / "rlpx_peer.py"

# Bounds for the subprocess tests: they fail rather than hang. Not timing assertions.
PROCESS_WAIT_SECONDS = 30


def vectors_dir() -> pathlib.Path:
    env = os.environ.get("STOCKADE_VECTORS")
    if env:
        return pathlib.Path(env)
    # Tests/peers -> repository root -> ../shared/vectors
    return HERE.parent.parent.parent / "shared" / "vectors"


def load_vectors(name: str) -> dict:
    with open(vectors_dir() / name) as f:
        return json.load(f)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def private_key(text: str) -> keys.PrivateKey:
    return keys.PrivateKey(h(text))


def node_for(pubkey: keys.PublicKey) -> Node:
    # The handshake classes want a remote with an address; no connection is made.
    return Node.from_pubkey_and_addr(pubkey, Address("127.0.0.1", 30303, 30303))


class _FakeWriterTransport:
    def is_closing(self) -> bool:
        return False


class _CapturingWriter:
    """Stands in for asyncio.StreamWriter so Transport.send's bytes can be compared."""

    def __init__(self) -> None:
        self.transport = _FakeWriterTransport()
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data


class _ConstantHash:
    """go-ethereum TestFrameReadWrite's fakeHash: ignores input, always digests to 0x01 * 32."""

    def update(self, data: bytes) -> None:
        pass

    def digest(self) -> bytes:
        return b"\x01" * 32


def make_transport(remote: Node, secrets: tuple, reader=None, writer=None) -> Transport:
    aes_secret, mac_secret, egress_mac, ingress_mac = secrets
    return Transport(remote=remote, private_key=keys.PrivateKey(b"\x01" * 32),
                     reader=reader, writer=writer or _CapturingWriter(),
                     aes_secret=aes_secret, mac_secret=mac_secret,
                     egress_mac=egress_mac, ingress_mac=ingress_mac)


def receive(transport_factory, wire: bytes) -> Message:
    """Transport.recv over a StreamReader preloaded with `wire` (needs a running loop)."""
    async def run() -> Message:
        reader = asyncio.StreamReader()
        reader.feed_data(wire)
        reader.feed_eof()
        return await transport_factory(reader).recv()
    return asyncio.run(run())


class VectorTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.eip8 = load_vectors("rlpx-eip8-handshake.json")
        cls.frames = load_vectors("rlpx-frames.json")["vectors"]
        cls.keys = cls.eip8["keys"]
        cls.nonces = cls.eip8["nonces"]

    def test_auth_messages_decode_with_recipient_key(self) -> None:
        key_b = private_key(self.keys["static_private_key_b"])
        for name in ("auth1", "auth2", "auth3"):
            with self.subTest(name):
                message = self.eip8["messages"][name]
                ephemeral, nonce, initiator = auth.decode_authentication(h(message["hex"]), key_b)
                expected = message["expected"]
                self.assertEqual(ephemeral.to_bytes().hex(), expected["recovered_ephemeral_pubkey"])
                self.assertEqual(nonce.hex(), expected["initiator_nonce"])
                self.assertEqual(initiator.to_bytes().hex(), expected["initiator_pubkey"])

    def test_ack_messages_decode_with_initiator_key(self) -> None:
        key_a = private_key(self.keys["static_private_key_a"])
        key_b = private_key(self.keys["static_private_key_b"])
        initiator = auth.HandshakeInitiator(node_for(key_b.public_key), key_a, use_eip8=True)
        for name in ("ack1", "ack2", "ack3"):
            with self.subTest(name):
                message = self.eip8["messages"][name]
                ephemeral, nonce = initiator.decode_auth_ack_message(h(message["hex"]))
                expected = message["expected"]
                self.assertEqual(ephemeral.to_bytes().hex(), expected["recipient_ephemeral_pubkey"])
                self.assertEqual(nonce.hex(), expected["recipient_nonce"])

    def test_tampered_auth_is_rejected(self) -> None:
        key_b = private_key(self.keys["static_private_key_b"])
        wire = bytearray(h(self.eip8["messages"]["auth2"]["hex"]))
        wire[-1] ^= 0x01  # breaks the ECIES HMAC
        with self.assertRaises(Exception):
            auth.decode_authentication(bytes(wire), key_b)

    def test_recipient_secrets_for_auth2_ack2(self) -> None:
        key_a = private_key(self.keys["static_private_key_a"])
        key_b = private_key(self.keys["static_private_key_b"])
        responder = auth.HandshakeResponder(node_for(key_a.public_key), key_b, use_eip8=True)
        responder.ephemeral_privkey = private_key(self.keys["ephemeral_private_key_b"])
        aes_secret, mac_secret, egress_mac, ingress_mac = responder.derive_secrets(
            initiator_nonce=h(self.nonces["nonce_a_initiator"]),
            responder_nonce=h(self.nonces["nonce_b_recipient"]),
            remote_ephemeral_pubkey=keys.PublicKey(h(self.keys["ephemeral_public_key_a"])),
            auth_init_ciphertext=h(self.eip8["messages"]["auth2"]["hex"]),
            auth_ack_ciphertext=h(self.eip8["messages"]["ack2"]["hex"]),
        )
        want = self.eip8["derived_secrets_auth2_ack2_recipient_B"]
        self.assertEqual(aes_secret.hex(), want["aes_secret"])
        self.assertEqual(mac_secret.hex(), want["mac_secret"])
        ingress_mac.update(b"foo")
        self.assertEqual(ingress_mac.digest().hex(), want["ingress_mac_after_foo"])

    def test_go_ethereum_golden_frame(self) -> None:
        vector = self.frames["frame_read_write_fake_mac"]
        secrets = (h(vector["secrets"]["aes_secret"]), h(vector["secrets"]["mac_secret"]),
                   _ConstantHash(), _ConstantHash())
        remote = node_for(keys.PrivateKey(b"\x02" * 32).public_key)
        body = bytes([vector["msg_code"]]) + h(vector["msg_payload_rlp"])
        header = len(body).to_bytes(3, "big") + RLPX_HEADER_DATA

        sender = make_transport(remote, secrets)
        sender.send(Message(header, body))
        self.assertEqual(bytes(sender._writer.written).hex(), vector["expected_frame"])

        message = receive(lambda reader: make_transport(remote, (
            secrets[0], secrets[1], _ConstantHash(), _ConstantHash()), reader=reader),
            h(vector["expected_frame"]))
        self.assertEqual(message.body.hex(), vector["frame_data_expected_after_read"])

    def test_legacy_handshake_and_first_hello_frames(self) -> None:
        v = self.frames["legacy_handshake_with_hello_frames"]["values"]
        decoded = self.frames["legacy_handshake_with_hello_frames"]["decoded_here"]
        initiator_key = private_key(v["initiator_private_key"])
        receiver_key = private_key(v["receiver_private_key"])
        initiator_eph = private_key(v["initiator_ephemeral_private_key"])
        receiver_eph = private_key(v["receiver_ephemeral_private_key"])
        auth_wire, ack_wire = h(v["auth_ciphertext"]), h(v["authresp_ciphertext"])

        # Both packets decode with trinity's legacy decoders.
        ephemeral, nonce, pubkey = auth.decode_authentication(auth_wire, receiver_key)
        self.assertEqual(ephemeral, initiator_eph.public_key)
        self.assertEqual(nonce.hex(), v["initiator_nonce"])
        self.assertEqual(pubkey, initiator_key.public_key)
        ack_ephemeral, ack_nonce, _ = auth.decode_ack_plain(ack_wire, initiator_key)
        self.assertEqual(ack_ephemeral, receiver_eph.public_key)
        self.assertEqual(ack_nonce.hex(), v["receiver_nonce"])

        def side(handshake_class, own_key, remote_key, own_eph, remote_eph) -> tuple:
            handshake = handshake_class(node_for(remote_key.public_key), own_key, use_eip8=False)
            handshake.ephemeral_privkey = own_eph
            return handshake.derive_secrets(
                h(v["initiator_nonce"]), h(v["receiver_nonce"]), remote_eph.public_key,
                auth_wire, ack_wire)

        initiator_secrets = side(auth.HandshakeInitiator, initiator_key, receiver_key,
                                 initiator_eph, receiver_eph)
        self.assertEqual(initiator_secrets[0].hex(), v["aes_secret"])
        self.assertEqual(initiator_secrets[1].hex(), v["mac_secret"])
        self.assertEqual(initiator_secrets[2].digest().hex(), v["initial_egress_MAC"])
        self.assertEqual(initiator_secrets[3].digest().hex(), v["initial_ingress_MAC"])

        # The initiator's first frame, re-encrypted by trinity, is byte-identical.
        initiator_hello = h(decoded["initiator_hello"]["frame_plaintext_unpadded"])
        header = h(decoded["initiator_hello"]["header_plaintext"])[:6]
        sender = make_transport(node_for(receiver_key.public_key), initiator_secrets)
        sender.send(Message(header, initiator_hello))
        self.assertEqual(bytes(sender._writer.written).hex(), v["initiator_hello_packet"])

        # The receiver's frame authenticates and decrypts on the initiator's side.
        fresh_initiator = side(auth.HandshakeInitiator, initiator_key, receiver_key,
                               initiator_eph, receiver_eph)
        message = receive(lambda reader: make_transport(
            node_for(receiver_key.public_key), fresh_initiator, reader=reader),
            h(v["receiver_hello_packet"]))
        hello = Hello.decode(message, snappy_support=False)
        self.assertEqual(hello.payload.remote_public_key.hex(),
                         decoded["receiver_hello"]["hello"]["node_id"])

        # And the initiator's frame on the receiver's side.
        receiver_secrets = side(auth.HandshakeResponder, receiver_key, initiator_key,
                                receiver_eph, initiator_eph)
        message = receive(lambda reader: make_transport(
            node_for(initiator_key.public_key), receiver_secrets, reader=reader),
            h(v["initiator_hello_packet"]))
        hello = Hello.decode(message, snappy_support=False)
        self.assertEqual(hello.payload.remote_public_key.hex(),
                         decoded["initiator_hello"]["hello"]["node_id"])

    def test_eip8_hello_with_extra_elements(self) -> None:
        vector = self.eip8["devp2p_hello_eip8"]
        body = b"\x80" + h(vector["hex"])
        message = Message(len(body).to_bytes(3, "big") + RLPX_HEADER_DATA, body)
        hello = Hello.decode(message, snappy_support=False).payload
        expected = vector["expected"]
        self.assertEqual(hello.client_version_string, expected["client_id"])
        self.assertEqual(hello.listen_port, expected["listen_port"])
        self.assertEqual(hello.remote_public_key.hex(), expected["node_id"])
        self.assertEqual([list(cap) for cap in hello.capabilities], expected["capabilities"])

    def test_snappy_codec_decodes_reference_blocks(self) -> None:
        codec = SnappyCodec()
        cases = load_vectors("snappy-block.json")["decode_cases"]
        valid = [case for case in cases if case["want_error"] is None]
        self.assertGreater(len(valid), 0)
        for case in valid:
            with self.subTest(case["desc"]):
                self.assertEqual(codec.decompress(h(case["input"])).hex(), case["want"])
        for case in cases:
            if case["want_error"] is not None:
                with self.subTest(case["desc"]):
                    with self.assertRaises(Exception):
                        codec.decompress(h(case["input"]))


MUX_MD = HERE.parent.parent / "ipc" / "MUX.md"

# What each golden block of ipc/MUX.md names, written here from the prose above each block.
MUX_GOLDEN_VALUES = {
    "NewIPv4WithData": [muxcool.Frame.new(
        1, muxcool.Target(muxcool.NET_TCP, 8080, muxcool.ADDR_IPV4, "127.0.0.1"), b"GET /")],
    "NewService": [muxcool.Frame.new(3, muxcool.Target.service("web"))],
    "NewIPv6": [muxcool.Frame.new(
        2, muxcool.Target(muxcool.NET_TCP, 443, muxcool.ADDR_IPV6, "2001:db8::1"))],
    "KeepWithData": [muxcool.Frame.keep(1, b"hello")],
    "KeepFin": [muxcool.Frame.keep(1, fin=True)],
    "KeepDataFin": [muxcool.Frame.keep(2, b"bye", fin=True)],
    "End": [muxcool.Frame.end(1)],
    "EndError": [muxcool.Frame.end(3, error=0x02)],
    "EndFlowControl": [muxcool.Frame.end(5, error=0x83)],
    "KeepAlive": [muxcool.Frame.keepalive()],
    "TwoFrames": [muxcool.Frame.keep(1, b"hi"), muxcool.Frame.end(5)],
    "UdpNewWithDatagram": [muxcool.Frame.new(
        1, muxcool.Target(muxcool.NET_UDP, 53, muxcool.ADDR_IPV4, "127.0.0.1"), b"ping")],
    "UdpKeepIPv4Address": [muxcool.Frame.keep(
        1, b"hi", address=muxcool.Target(muxcool.NET_UDP, 5353, muxcool.ADDR_IPV4, "10.0.0.2"))],
    "UdpKeepDomainAddress": [muxcool.Frame.keep(
        3, b"abc", address=muxcool.Target(muxcool.NET_UDP, 53, muxcool.ADDR_DOMAIN, "dns.example"))],
}
MUX_GOLDEN_WINDOW_UPDATES = {"WindowUpdate": [(1, 128 * 1024), (2, 256 * 1024)]}


class MuxCodecTests(unittest.TestCase):
    """muxcool.py, written from ipc/MUX.md alone, against that file's golden frames and rules."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.golden = muxcool.parse_golden_blocks(MUX_MD.read_text())

    def test_every_golden_block_is_covered(self) -> None:
        self.assertEqual(set(self.golden),
                         set(MUX_GOLDEN_VALUES) | set(MUX_GOLDEN_WINDOW_UPDATES))

    def test_golden_frames_decode_to_their_values(self) -> None:
        for name, frames in MUX_GOLDEN_VALUES.items():
            with self.subTest(name):
                self.assertEqual(muxcool.decode_frames(self.golden[name]), frames)

    def test_golden_frames_encode_byte_for_byte(self) -> None:
        for name, frames in MUX_GOLDEN_VALUES.items():
            with self.subTest(name):
                self.assertEqual(muxcool.encode_frames(frames).hex(), self.golden[name].hex())

    def test_golden_window_update(self) -> None:
        for name, entries in MUX_GOLDEN_WINDOW_UPDATES.items():
            self.assertEqual(muxcool.decode_window_update(self.golden[name]), entries)
            self.assertEqual(muxcool.encode_window_update(entries), self.golden[name])

    def test_golden_meanings(self) -> None:
        end_error = muxcool.decode_frames(self.golden["EndError"])[0]
        self.assertTrue(end_error.error)
        self.assertEqual(muxcool.ERROR_NAMES[end_error.error_code], "notAllowed")
        self.assertEqual(muxcool.decode_frames(self.golden["EndFlowControl"])[0].error_code, 0x83)
        self.assertTrue(muxcool.decode_frames(self.golden["KeepFin"])[0].fin)
        self.assertFalse(muxcool.decode_frames(self.golden["End"])[0].error)
        service = muxcool.decode_frames(self.golden["NewService"])[0].target
        self.assertEqual((service.port, service.kind, service.address), (0, muxcool.ADDR_DOMAIN, "web"))

    def test_lenient_reads(self) -> None:
        # End+Error without a code byte (v2ray) and trailing metadata are read, not refused.
        self.assertEqual(muxcool.decode_frames(h("0004 0007 03 02")),
                         [muxcool.Frame(7, muxcool.END, muxcool.OPT_ERROR)])
        self.assertEqual(muxcool.decode_frames(h("0006 0001 02 00 aabb")),
                         [muxcool.Frame(1, muxcool.KEEP)])
        # Data with length 0 is no data; unknown option bits are kept but mean nothing.
        self.assertEqual(muxcool.decode_frames(h("0004 0001 02 01 0000"))[0].data, b"")
        self.assertFalse(muxcool.decode_frames(h("0004 0001 03 04"))[0].fin)  # Fin on End
        self.assertFalse(muxcool.decode_frames(h("0004 0001 02 02"))[0].error)  # Error on Keep
        # KeepAlive with data is accepted.
        self.assertEqual(muxcool.decode_frames(h("0004 0000 04 01 0001 ff"))[0].data, b"\xff")

    def test_malformed_payloads(self) -> None:
        cases = {
            "empty": "",
            "metadata length 3": "0003 000102",
            "metadata length 513": "0201" + "00" * 513,
            "unknown status": "0004 0001 05 00",
            "metadata past the end": "0008 0001 02 00",
            "data length past the end": "0004 0001 02 01 00",
            "data past the end": "0004 0001 02 01 0005 6869",
            "New with 3 bytes of target": "0007 0001 01 00 01 0000",
            "New unknown network": "000c 0001 01 00 03 0050 01 7f000001",
            "New unknown address type": "000c 0001 01 00 01 0050 04 7f000001",
            "New IPv4 cut short": "000b 0001 01 00 01 0050 01 7f0000",
            "New IPv6 cut short": "0017 0001 01 00 01 0050 03" + "00" * 15,
            "New domain of length 0": "0009 0001 01 00 01 0000 02 00",
            "New domain cut short": "000b 0001 01 00 01 0000 02 03 7765",
            "New domain not UTF-8": "000a 0001 01 00 01 0000 02 01 ff",
            "second frame cut short": "0004 0001 03 00 0004 00",
        }
        for name, text in cases.items():
            with self.subTest(name):
                with self.assertRaises(muxcool.Malformed):
                    muxcool.decode_frames(h(text.replace(" ", "")))

    def test_malformed_window_updates(self) -> None:
        for name, text in {"empty": "", "not a multiple of 6": "0001000000",
                           "increment 0": "000100000000", "increment 2^31": "000180000000",
                           "second entry bad": "000100000001000200000000"}.items():
            with self.subTest(name):
                with self.assertRaises(muxcool.Malformed):
                    muxcool.decode_window_update(h(text))
        self.assertEqual(muxcool.decode_window_update(h("00017fffffff")), [(1, 2 ** 31 - 1)])

    def test_packing_keeps_messages_within_64_kib_of_whole_frames(self) -> None:
        data = os.urandom(200 * 1024)
        frames = [muxcool.Frame.keep(1, chunk) for chunk in muxcool.chunks(data)]
        payloads = muxcool.pack_messages(frames)
        self.assertTrue(all(len(p) <= muxcool.MESSAGE_SIZE for p in payloads))
        decoded = [f for p in payloads for f in muxcool.decode_frames(p)]
        self.assertEqual(b"".join(f.data for f in decoded), data)
        self.assertTrue(all(len(f.data) <= muxcool.CHUNK for f in decoded))

    def test_stk_messages_ride_trinity_with_snappy(self) -> None:
        # The Frames / WindowUpdate commands rlpx_peer.py sends: id offset 0x10, raw payload,
        # snappy-compressed when negotiated, and decoded back by trinity's own Command.decode.
        payload = self.golden["TwoFrames"]
        for snappy in (True, False):
            with self.subTest(snappy=snappy):
                protocol = rlpx_peer.StkProtocol(None, 0x10, snappy)
                message = rlpx_peer.StkFrames(payload).encode(
                    protocol.command_id_by_type[rlpx_peer.StkFrames], snappy)
                self.assertEqual(message.command_id, 0x10)
                body = message.body[1:]
                self.assertEqual(SnappyCodec().decompress(body) if snappy else body, payload)
                decoded = protocol.get_command_type_for_command_id(0x10).decode(message, snappy)
                self.assertEqual(decoded.payload, payload)
        protocol = rlpx_peer.StkProtocol(None, 0x10, True)
        self.assertEqual(protocol.command_id_by_type[rlpx_peer.StkWindowUpdate], 0x11)
        self.assertEqual(sorted(protocol.command_type_by_id), list(range(0x10, 0x20)))


class PeerProcess:
    """A running `rlpx_peer.py listen`; its JSON lines are collected as they arrive."""

    def __init__(self, *extra: str) -> None:
        key = os.urandom(32).hex()
        self.process = subprocess.Popen(
            [sys.executable, str(PEER_SCRIPT), "listen", "--key", key,
             "--port", "0", "--max-seconds", str(PROCESS_WAIT_SECONDS), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.events: list = []
        self.arrived = threading.Condition()
        self.reader = threading.Thread(target=self._collect, daemon=True)
        self.reader.start()
        self.enode = self.wait_for("listening")["enode"]

    def _collect(self) -> None:
        for line in self.process.stdout:
            if line.strip():
                with self.arrived:
                    self.events.append(json.loads(line))
                    self.arrived.notify_all()
        with self.arrived:
            self.arrived.notify_all()

    def wait_for(self, name: str) -> dict:
        """The first event called `name`; fails the test if it has not come within the bound."""
        def found() -> list:
            return of(self.events, name)
        with self.arrived:
            self.arrived.wait_for(
                lambda: found() or self.process.poll() is not None, timeout=PROCESS_WAIT_SECONDS)
            matches = found()
        if not matches:
            raise AssertionError(f"listener never reported {name!r}: {self.events}")
        return matches[0]

    def stop(self) -> list:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=PROCESS_WAIT_SECONDS)
        self.reader.join(timeout=PROCESS_WAIT_SECONDS)
        return list(self.events)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def run_ping(enode: str, *extra: str) -> tuple:
    done = subprocess.run(
        [sys.executable, str(PEER_SCRIPT), "ping", enode, *extra],
        capture_output=True, text=True, timeout=PROCESS_WAIT_SECONDS)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, events, done.stderr


def of(events: list, name: str) -> list:
    return [event for event in events if event["event"] == name]


class SelfInteropTests(unittest.TestCase):
    def setUp(self) -> None:
        self.listener = PeerProcess("--caps", "stk/1,eth/68")
        self.addCleanup(self.listener.kill)

    def check_round_trip(self, count: int, *ping_args: str, dialer_caps: tuple = (),
                         snappy: bool = True) -> None:
        if dialer_caps:
            ping_args += ("--caps", ",".join(dialer_caps))
        code, events, stderr = run_ping(self.listener.enode, "--count", str(count), *ping_args)
        self.assertEqual(code, 0, f"{events}\n{stderr}")
        hello = of(events, "hello")[0]
        self.assertEqual(hello["caps"], ["stk/1", "eth/68"])
        self.assertTrue(hello["node_id_matches_handshake"])
        self.assertEqual(hello["snappy"], snappy)
        self.assertEqual([event["seq"] for event in of(events, "pong")], list(range(count)))
        self.assertEqual(of(events, "done"), [{"event": "done", "pings": count}])

        self.listener.wait_for("disconnect")
        listened = self.listener.stop()
        self.assertEqual(of(listened, "hello")[0]["caps"], list(dialer_caps))
        self.assertTrue(of(listened, "hello")[0]["node_id_matches_handshake"])
        self.assertEqual(len(of(listened, "ping")), count)
        self.assertEqual([event["reason"] for event in of(listened, "disconnect")], [0])
        self.assertEqual(of(listened, "exit"), [{"event": "exit", "reason": "SIGTERM"}])
        self.assertEqual(of(listened, "error"), [])

    def test_legacy_auth_dial(self) -> None:
        self.check_round_trip(3)

    def test_eip8_auth_dial_with_caps(self) -> None:
        self.check_round_trip(2, "--eip8", dialer_caps=("stk/1",))

    def test_p2p_version_4_disables_snappy(self) -> None:
        self.check_round_trip(2, "--p2p-version", "4", snappy=False)

    def test_wrong_node_key_fails_the_handshake(self) -> None:
        # Same address, a different public key: the auth cannot be decrypted by the listener.
        other = keys.PrivateKey(os.urandom(32)).public_key.to_bytes().hex()
        wrong = "enode://" + other + self.listener.enode[len("enode://") + 128:]
        code, events, _ = run_ping(wrong, "--timeout", "5")
        self.assertEqual(code, 1)
        self.assertEqual(of(events, "error")[0]["stage"], "handshake")
        self.assertEqual(self.listener.wait_for("error")["stage"], "handshake")
        listened = self.listener.stop()
        self.assertEqual(of(listened, "hello"), [])

    def test_disconnect_before_hello_is_reported(self) -> None:
        self.listener.kill()
        rejecting = PeerProcess("--reject", "4")  # TooManyPeers
        self.addCleanup(rejecting.kill)
        code, events, _ = run_ping(rejecting.enode)
        self.assertEqual(code, 1)
        self.assertEqual(of(events, "disconnect"),
                         [{"event": "disconnect", "before_hello": True, "reason": 4,
                           "reason_name": "TOO_MANY_PEERS"}])
        self.assertEqual(of(events, "error")[0]["stage"], "hello")
        self.assertEqual(of(events, "hello"), [])
        self.assertEqual(rejecting.wait_for("sent_disconnect")["reason"], 4)

    def test_non_loopback_enode_is_refused(self) -> None:
        other = keys.PrivateKey(os.urandom(32)).public_key.to_bytes().hex()
        code, events, _ = run_ping(f"enode://{other}@192.0.2.1:30303")
        self.assertEqual(code, 2)
        self.assertEqual(of(events, "error")[0]["stage"], "enode")


if __name__ == "__main__":
    unittest.main()
