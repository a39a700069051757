"""Mux.Cool frames as Stockade's `stk/1` capability carries them, written from ipc/MUX.md only.

Pure bytes in, values out: no sockets, no trinity. `rlpx_peer.py mux` puts these payloads in
RLPx messages (relative id 0x00 Frames, 0x01 WindowUpdate); `test_rlpx_peer.py` checks them
against MUX.md's golden frames, which it reads from that file.

A Frames payload is one or more frames back to back; every integer is big-endian:

    u16 metadata length L (4..512) | u16 session | u8 status | u8 option | L-4 more metadata
    [u16 data length N | N data bytes]            (only when option has the Data bit)

New's extra metadata is its target (u8 network, u16 port, u8 address type, address); End's, when
option has the Error bit, an error-code byte (which may be absent). Other trailing metadata
bytes are skipped, as v2ray's reader does.
"""

import ipaddress
from dataclasses import dataclass
from typing import List, Optional, Tuple

# Message ids relative to the capability's offset.
MSG_FRAMES = 0x00
MSG_WINDOW_UPDATE = 0x01
MESSAGE_IDS = 16  # stk/1 reserves 16 ids; 0x02..0x0f are protocol errors

# Status byte.
NEW = 0x01
KEEP = 0x02
END = 0x03
KEEPALIVE = 0x04
STATUS_NAMES = {NEW: "New", KEEP: "Keep", END: "End", KEEPALIVE: "KeepAlive"}

# Option bits; others are ignored.
OPT_DATA = 0x01
OPT_ERROR = 0x02
OPT_FIN = 0x04

# New's target.
NET_TCP = 0x01
NET_UDP = 0x02
ADDR_IPV4 = 0x01
ADDR_DOMAIN = 0x02
ADDR_IPV6 = 0x03

# End+Error codes (MUX.md "Error codes").
ERROR_NAMES = {
    0x01: "generalFailure", 0x02: "notAllowed", 0x03: "networkUnreachable",
    0x04: "hostUnreachable", 0x05: "connectionRefused", 0x06: "timedOut",
    0x07: "notSupported", 0x08: "addressNotSupported",
    0x80: "tooManySessions", 0x81: "backlogFull", 0x82: "bufferBudget",
    0x83: "flowControl", 0x84: "unknownSession", 0x85: "reset",
}

MIN_METADATA = 4
MAX_METADATA = 512
MAX_DATA = 0xFFFF
CHUNK = 16 * 1024            # a sender writes at most this much data per frame
MESSAGE_SIZE = 64 * 1024     # a sender keeps a Frames message within this
INITIAL_WINDOW = 256 * 1024  # each direction of each session, both sides know it
MAX_INCREMENT = 2 ** 31 - 1


class Malformed(ValueError):
    """A payload MUX.md calls malformed: a protocol error for the whole link."""


@dataclass(frozen=True)
class Target:
    network: int  # NET_TCP / NET_UDP
    port: int     # 0 with a domain names a service of the exit
    kind: int     # ADDR_IPV4 / ADDR_DOMAIN / ADDR_IPV6
    address: str  # dotted quad, domain, or IPv6 text

    @classmethod
    def service(cls, name: str) -> "Target":
        return cls(NET_TCP, 0, ADDR_DOMAIN, name)

    @classmethod
    def host(cls, address: str, port: int, network: int = NET_TCP) -> "Target":
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return cls(network, port, ADDR_DOMAIN, address)
        return cls(network, port, ADDR_IPV4 if ip.version == 4 else ADDR_IPV6, str(ip))

    def encode(self) -> bytes:
        head = bytes([self.network]) + self.port.to_bytes(2, "big") + bytes([self.kind])
        if self.kind == ADDR_IPV4:
            return head + ipaddress.IPv4Address(self.address).packed
        if self.kind == ADDR_IPV6:
            return head + ipaddress.IPv6Address(self.address).packed
        if self.kind == ADDR_DOMAIN:
            name = self.address.encode("utf-8")
            if not 1 <= len(name) <= 255:
                raise ValueError(f"a domain is 1..255 bytes, not {len(name)}")
            return head + bytes([len(name)]) + name
        raise ValueError(f"unknown address type {self.kind}")

    def describe(self) -> str:
        net = {NET_TCP: "tcp", NET_UDP: "udp"}.get(self.network, hex(self.network))
        if self.kind == ADDR_DOMAIN and self.port == 0:
            return f"{net} service {self.address}"
        host = f"[{self.address}]" if self.kind == ADDR_IPV6 else self.address
        return f"{net} {host}:{self.port}"


def decode_target(meta: bytes) -> Target:
    """New's target from the metadata after the four fixed bytes (extra bytes are skipped)."""
    if len(meta) < 4:
        raise Malformed(f"New with {len(meta)} bytes of target, fewer than 4")
    network, port, kind = meta[0], int.from_bytes(meta[1:3], "big"), meta[3]
    if network not in (NET_TCP, NET_UDP):
        raise Malformed(f"New with unknown network 0x{network:02x}")
    rest = meta[4:]
    if kind == ADDR_IPV4:
        if len(rest) < 4:
            raise Malformed("New with an IPv4 address cut short")
        return Target(network, port, kind, str(ipaddress.IPv4Address(rest[:4])))
    if kind == ADDR_IPV6:
        if len(rest) < 16:
            raise Malformed("New with an IPv6 address cut short")
        return Target(network, port, kind, str(ipaddress.IPv6Address(rest[:16])))
    if kind == ADDR_DOMAIN:
        if len(rest) < 1:
            raise Malformed("New with a domain length cut short")
        size = rest[0]
        if size == 0:
            raise Malformed("New with a domain of length 0")
        if len(rest) < 1 + size:
            raise Malformed("New with a domain cut short")
        try:
            name = rest[1:1 + size].decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("New with a domain that is not UTF-8")
        return Target(network, port, kind, name)
    raise Malformed(f"New with unknown address type 0x{kind:02x}")


@dataclass(frozen=True)
class Frame:
    session: int
    status: int
    option: int = 0
    target: Optional[Target] = None      # New; a UDP Keep's datagram address (MUX.md "UDP sessions")
    error_code: Optional[int] = None     # End with the Error bit only; None when absent
    data: bytes = b""                    # present iff the Data bit is set (length 0 reads as none)

    # Constructors for what a peer sends.
    @classmethod
    def new(cls, session: int, target: Target, data: bytes = b"", fin: bool = False) -> "Frame":
        return cls(session, NEW, (OPT_DATA if data else 0) | (OPT_FIN if fin else 0),
                   target=target, data=data)

    @classmethod
    def keep(cls, session: int, data: bytes = b"", fin: bool = False, address: Optional[Target] = None) -> "Frame":
        return cls(session, KEEP, (OPT_DATA if data else 0) | (OPT_FIN if fin else 0), target=address, data=data)

    @classmethod
    def end(cls, session: int, error: Optional[int] = None) -> "Frame":
        if error is None:
            return cls(session, END)
        return cls(session, END, OPT_ERROR, error_code=error)

    @classmethod
    def keepalive(cls) -> "Frame":
        return cls(0, KEEPALIVE)

    # What the bits mean where MUX.md says they mean something.
    @property
    def fin(self) -> bool:
        return self.status in (NEW, KEEP) and bool(self.option & OPT_FIN)

    @property
    def error(self) -> bool:
        return self.status == END and bool(self.option & OPT_ERROR)

    def encode(self) -> bytes:
        meta = self.session.to_bytes(2, "big") + bytes([self.status, self.option])
        if self.status == NEW:
            if self.target is None:
                raise ValueError("New needs a target")
            meta += self.target.encode()
        elif self.status == KEEP and self.target is not None:
            meta += self.target.encode()
        if self.status == END and self.option & OPT_ERROR and self.error_code is not None:
            meta += bytes([self.error_code])
        if not MIN_METADATA <= len(meta) <= MAX_METADATA:
            raise ValueError(f"metadata of {len(meta)} bytes")
        out = len(meta).to_bytes(2, "big") + meta
        if self.option & OPT_DATA:
            if len(self.data) > MAX_DATA:
                raise ValueError(f"data of {len(self.data)} bytes")
            out += len(self.data).to_bytes(2, "big") + self.data
        elif self.data:
            raise ValueError("data without the Data bit")
        return out

    def describe(self) -> dict:
        out = {"session": self.session, "status": STATUS_NAMES.get(self.status, self.status),
               "option": self.option}
        if self.target is not None:
            out["target"] = self.target.describe()
        if self.fin:
            out["fin"] = True
        if self.error:
            out["error_code"] = self.error_code
            out["error_name"] = ERROR_NAMES.get(self.error_code, "unlisted") \
                if self.error_code is not None else "absent"
        if self.data:
            out["data_len"] = len(self.data)
        return out


def decode_frames(payload: bytes) -> List[Frame]:
    """Every frame of a Frames payload; Malformed for anything MUX.md calls malformed."""
    if not payload:
        raise Malformed("empty Frames payload")
    frames = []
    at = 0
    while at < len(payload):
        frame, at = decode_frame(payload, at)
        frames.append(frame)
    return frames


def decode_frame(payload: bytes, at: int = 0) -> Tuple[Frame, int]:
    """One frame starting at `at`; returns it and the offset after it."""
    if len(payload) - at < 2:
        raise Malformed("metadata length runs past the payload")
    size = int.from_bytes(payload[at:at + 2], "big")
    if not MIN_METADATA <= size <= MAX_METADATA:
        raise Malformed(f"metadata length {size} outside 4..512")
    meta = payload[at + 2:at + 2 + size]
    if len(meta) < size:
        raise Malformed("metadata runs past the payload")
    at += 2 + size
    session = int.from_bytes(meta[0:2], "big")
    status, option = meta[2], meta[3]
    if status not in STATUS_NAMES:
        raise Malformed(f"unknown status 0x{status:02x}")
    # A Keep names an address only when its extra metadata starts with network UDP (0x02);
    # any other extra metadata is skipped, as for every status.
    udp_keep = status == KEEP and size > 4 and meta[4] == NET_UDP
    target = decode_target(meta[4:]) if status == NEW or udp_keep else None
    error_code = None
    if status == END and option & OPT_ERROR and size >= 5:
        error_code = meta[4]
    data = b""
    if option & OPT_DATA:
        if len(payload) - at < 2:
            raise Malformed("data length runs past the payload")
        length = int.from_bytes(payload[at:at + 2], "big")
        at += 2
        if len(payload) - at < length:
            raise Malformed("data runs past the payload")
        data = payload[at:at + length]
        at += length
    return Frame(session, status, option, target, error_code, bytes(data)), at


def encode_frames(frames: List[Frame]) -> bytes:
    return b"".join(frame.encode() for frame in frames)


def encode_window_update(entries: List[Tuple[int, int]]) -> bytes:
    if not entries:
        raise ValueError("a WindowUpdate has at least one entry")
    out = b""
    for session, increment in entries:
        if not 1 <= increment <= MAX_INCREMENT:
            raise ValueError(f"increment {increment} outside 1..2^31-1")
        out += session.to_bytes(2, "big") + increment.to_bytes(4, "big")
    return out


def decode_window_update(payload: bytes) -> List[Tuple[int, int]]:
    if not payload:
        raise Malformed("empty WindowUpdate payload")
    if len(payload) % 6:
        raise Malformed(f"WindowUpdate of {len(payload)} bytes, not a multiple of 6")
    entries = []
    for at in range(0, len(payload), 6):
        session = int.from_bytes(payload[at:at + 2], "big")
        increment = int.from_bytes(payload[at + 2:at + 6], "big")
        if not 1 <= increment <= MAX_INCREMENT:
            raise Malformed(f"WindowUpdate increment {increment} outside 1..2^31-1")
        entries.append((session, increment))
    return entries


def chunks(data: bytes, size: int = CHUNK) -> List[bytes]:
    return [data[at:at + size] for at in range(0, len(data), size)]


def pack_messages(frames: List[Frame], limit: int = MESSAGE_SIZE) -> List[bytes]:
    """Frames into as few Frames payloads as fit within `limit` bytes each (whole frames only)."""
    payloads: List[bytes] = []
    current = b""
    for frame in frames:
        encoded = frame.encode()
        if current and len(current) + len(encoded) > limit:
            payloads.append(current)
            current = b""
        current += encoded
    if current:
        payloads.append(current)
    return payloads


def parse_golden_blocks(markdown: str) -> dict:
    """MUX.md's ```golden NAME blocks -> {NAME: payload bytes}: each line's hex after its last ':'."""
    blocks = {}
    name = None
    lines: List[str] = []
    for line in markdown.splitlines():
        if name is None:
            if line.startswith("```golden "):
                name = line[len("```golden "):].strip()
                lines = []
        elif line.startswith("```"):
            blocks[name] = bytes.fromhex("".join(l.rsplit(":", 1)[1] for l in lines if ":" in l))
            name = None
        else:
            lines.append(line)
    return blocks
