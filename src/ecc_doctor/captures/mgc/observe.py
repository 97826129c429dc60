"""Stream Frame records into per-gateway observations: sessions, registration attempts, losses.

An *attempt* is a TCP SYN from the gateway to a controller on an H.248 port (retransmitted
SYNs of the same connection are the same attempt), or a text-MEGACO ServiceChange request over
UDP (retransmissions with the same transaction id are the same attempt). An attempt
*registers* when the controller answers the ServiceChange with a Reply that carries no Error
(and no redirect); for TLS or binary H.248 (nothing readable) it needs data from the controller
(over TLS: application data, after the handshake) on a connection that no TLS alert ends and
that stays open at least :data:`HOLD_S` seconds after that data: a handshake aborted by an
alert (a certificate the gateway rejects) or a connection closed at once is a failed attempt.

Over TLS 1.3 (a ServerHello that selects version 0x0304, RFC 8446 §4.2.1) the controller's
certificate flight is itself encrypted: it travels as application-data records before the
gateway has judged the certificate, and the gateway's Finished, or the alert that rejects the
certificate, is an application-data record too. There the controller's application data
answers only once the gateway has sent application data of its own (its Finished; 0-RTT
data sent before the ServerHello does not count), and an application-data record of 19
bytes is an encrypted alert (2 bytes of alert, its type byte, a 16-byte AEAD tag), from
either side. The answer may then be a session ticket, milliseconds before the reply to the
gateway's ServiceChange. Memory is bounded: attempts, connections and gateways are capped.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass, field

from ecc_doctor.captures.mgc.megaco import MegacoMessage, parse_payload, parse_stream
from ecc_doctor.captures.mgc.params import normalize_address
from ecc_doctor.captures.records import ACK, FIN, RST, SYN, TCP, UDP, CaptureNote, Frame

MAX_ATTEMPTS = 5000
MAX_CONNECTIONS = 512
MAX_GATEWAYS = 1024  # an Aura CM serves a few hundred gateways; beyond this they are counted
MAX_TOTAL_ATTEMPTS = 200_000  # over all gateways, so memory stays bounded with many of them
MAX_NOTES = 20
MAX_ODD_PORT_FRAMES = 50
MAX_RETRANSMISSIONS = 50  # frames of an attempt's retransmissions kept (a flood grows nothing)
MAX_ODD_PORTS = 16  # (controller, port) pairs listed per gateway; SYNs to more are counted
HOLD_S = 5.0  # an unreadable link closed sooner than this after the first answer never registered
MAX_PENDING = 16384  # bytes of one incomplete TPKT packet kept per direction

ConnKey = tuple[str, int, str, int, int]  # gateway, gateway port, controller, port, proto


@dataclass
class Conn:
    """One gateway-controller connection (TCP) or UDP association."""

    controller: str
    port: int
    proto: int
    first_frame: int
    first_ts: float
    syn_ack: int = 0
    last_rx_frame: int = 0
    last_rx_ts: float = 0.0
    close_frame: int = 0
    close_ts: float = 0.0
    close_kind: str = ""
    controller_payload: bool = False
    data_frame: int = 0  # the controller's first payload
    data_ts: float = 0.0
    tls: bool = False  # TLS records seen on the connection
    tls13: bool = False  # the controller's ServerHello selected TLS 1.3
    gateway_app: bool = False  # the gateway has sent TLS application data
    app_frame: int = 0  # the controller's first TLS application data (after the handshake)
    app_ts: float = 0.0
    alert_ts: float = -1.0  # the first TLS alert, either way
    megaco_seen: bool = False
    session: bool = False  # established before the capture (or its SYN was not seen)
    pending: dict[bool, bytes] = field(default_factory=dict)  # outbound? -> partial TPKT


@dataclass
class Attempt:
    """One registration attempt by the gateway."""

    frame: int
    ts: float
    controller: str
    port: int
    proto: int
    conn: Conn
    retransmissions: list[int] = field(default_factory=list)
    service_change: int = 0
    transaction_id: int | None = None
    reply: int = 0
    reply_ts: float = 0.0
    error: str = ""
    refused: int = 0
    redirect: str = ""  # the reply sent the gateway to another MGC (RFC 3525 §7.2.8)

    @property
    def registered(self) -> bool:
        if self.error or self.redirect:
            return False
        if self.reply:
            return True
        c = self.conn
        if self.proto != TCP or not c.syn_ack or c.megaco_seen:
            return False
        frame, ts = _answer(c)
        if not frame:
            return False
        if 0 <= c.alert_ts < ts + HOLD_S:
            return False  # a TLS handshake or link aborted by an alert
        return not (c.close_frame and c.close_ts < ts + HOLD_S)  # closed at once: refused

    @property
    def registered_at(self) -> tuple[int, float]:
        """(frame, time) of the answer that completed the registration."""
        if self.reply:
            return self.reply, self.reply_ts
        frame, ts = _answer(self.conn)
        return (frame, ts) if frame else (self.frame, self.ts)


def _answer(c: Conn) -> tuple[int, float]:
    """The controller's first data on an unreadable link: TLS application data, or any."""
    return (c.app_frame, c.app_ts) if c.tls else (c.data_frame, c.data_ts)


#: TLS records read in one segment: a peer sends several together (ServerHello,
#: ChangeCipherSpec and the encrypted flight; ChangeCipherSpec and Finished or an alert)
MAX_RECORDS = 8
TLS13 = b"\x03\x04"
#: a TLS 1.3 record of this length is an encrypted alert (AES-GCM, ChaCha20-Poly1305)
TLS13_ALERT_LENGTH = 19
SUPPORTED_VERSIONS = 43  # the extension's type (RFC 8446 §4.2)


def _tls_records(data: bytes) -> list[tuple[int, int, int]]:
    """(content type, offset, length) of the TLS records (types 20-23, version 3.x) this
    segment starts with, while they follow one another within it."""
    found: list[tuple[int, int, int]] = []
    pos, size = 0, len(data)
    while pos + 5 <= size and len(found) < MAX_RECORDS:
        kind = data[pos]
        if data[pos + 1] != 3 or not 20 <= kind <= 23:
            break
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        found.append((kind, pos, length))
        pos += 5 + length
    return found


def _selects_tls13(data: bytes, pos: int) -> bool:
    """Whether the handshake record at *pos* is a ServerHello whose supported_versions
    extension selects TLS 1.3 (the part of it within *data*)."""
    hello = data[pos + 5 : pos + 5 + int.from_bytes(data[pos + 3 : pos + 5], "big")]
    if len(hello) < 39 or hello[0] != 2:  # handshake type server_hello
        return False
    at = 38 + 1 + hello[38] + 3  # version, random; session id; cipher suite, compression
    end = min(len(hello), at + 2 + int.from_bytes(hello[at : at + 2], "big"))
    at += 2
    while at + 4 <= end:
        ext, length = int.from_bytes(hello[at : at + 2], "big"), hello[at + 2] << 8 | hello[at + 3]
        if ext == SUPPORTED_VERSIONS:
            return hello[at + 4 : at + 6] == TLS13
        at += 4 + length
    return False


def _tls_record(conn: Conn, f: Frame, inbound: bool) -> None:
    """Note the TLS records this segment starts with (see the module docstring)."""
    data = f.payload
    records = _tls_records(data)
    if not records:
        return
    conn.tls = True
    for kind, pos, length in records:
        if kind == 23 and conn.tls13 and length == TLS13_ALERT_LENGTH:
            kind = 21  # an encrypted alert
        if kind == 21:
            if conn.alert_ts < 0:
                conn.alert_ts = f.ts
        elif kind == 22 and inbound and not conn.tls13:
            conn.tls13 = _selects_tls13(data, pos)
            if conn.tls13:
                conn.gateway_app = False  # 0-RTT data before the ServerHello: no Finished
        elif kind == 23:
            if not inbound:
                conn.gateway_app = True
            elif not conn.app_frame and (conn.gateway_app or not conn.tls13):
                conn.app_frame, conn.app_ts = f.frame, f.ts


@dataclass
class GatewayObs:
    """Everything seen of one gateway."""

    address: str
    inferred: bool
    first_ts: float
    attempts: list[Attempt] = field(default_factory=list)
    dropped_attempts: int = 0
    sessions: deque[Conn] = field(default_factory=lambda: deque(maxlen=MAX_CONNECTIONS))
    odd_ports: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    odd_ports_more: int = 0  # SYNs to further (controller, port) pairs, past MAX_ODD_PORTS
    conns: dict[ConnKey, Conn] = field(default_factory=dict)
    by_conn: dict[ConnKey, Attempt] = field(default_factory=dict)
    by_tid: dict[tuple[str, int], Attempt] = field(default_factory=dict)


@dataclass
class Observation:
    """The result of one pass over a capture."""

    gateways: dict[str, GatewayObs] = field(default_factory=dict)
    notes: list[CaptureNote] = field(default_factory=list)
    frames: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0
    skipped_gateways: int = 0
    skipped_frames: int = 0
    total_attempts: int = 0


class Observer:
    """Feed records with :meth:`feed`; read :attr:`obs` at the end."""

    def __init__(
        self, ports: tuple[int, ...], controllers: tuple[str, ...] = (), gateway: str = ""
    ) -> None:
        self.ports = frozenset(ports)
        self.controllers = frozenset(normalize_address(c) for c in controllers)
        self.gateway = normalize_address(gateway) if gateway else ""
        self._v6: dict[str, str] = {}
        self.obs = Observation()
        self._skipped: set[str] = set()

    def feed(self, record: Frame | CaptureNote) -> None:
        if isinstance(record, CaptureNote):
            if len(self.obs.notes) < MAX_NOTES:
                self.obs.notes.append(record)
            return
        obs = self.obs
        obs.frames += 1
        if obs.frames == 1:
            obs.first_ts = record.ts
        obs.last_ts = max(obs.last_ts, record.ts)
        if ":" in record.src:  # IPv6: compared in one spelling with the list
            record = dataclasses.replace(
                record, src=self._v6addr(record.src), dst=self._v6addr(record.dst)
            )
        side = self._orient(record)
        if side is None:
            return
        gw_addr, outbound = side
        gw = self._gateway(gw_addr, record.ts)
        if gw is None:
            return
        if outbound:
            self._outbound(gw, record)
        else:
            self._inbound(gw, record)

    def _v6addr(self, address: str) -> str:
        canonical = self._v6.get(address)
        if canonical is None:
            canonical = normalize_address(address)
            if len(self._v6) < MAX_CONNECTIONS:
                self._v6[address] = canonical
        return canonical

    def _orient(self, f: Frame) -> tuple[str, bool] | None:
        """(gateway address, frame goes gateway -> controller) or None when not ours."""
        if self.gateway:
            if f.src == self.gateway and self._controller_side(f.dst, f.dport):
                return f.src, True
            if f.dst == self.gateway and self._controller_side(f.src, f.sport):
                return f.dst, False
            return None
        if f.dport in self.ports and (not self.controllers or f.dst in self.controllers):
            if (
                f.proto == UDP
                and not self.controllers
                and f.sport in self.ports
                and not self._is_request(f)
            ):
                return f.dst, False  # both ends on 2944: only requests come from the gateway
            return f.src, True
        if f.sport in self.ports and (not self.controllers or f.src in self.controllers):
            return f.dst, False
        if f.dst in self.controllers and f.proto == TCP and f.tcp_flags & (SYN | ACK) == SYN:
            return f.src, True  # a SYN to a controller on some other port
        return None

    def _controller_side(self, address: str, port: int) -> bool:
        # a known gateway: any H.248 peer counts (so attempts outside the list are seen), and
        # listed controllers on any port (so odd ports are reported)
        return address in self.controllers or port in self.ports

    @staticmethod
    def _is_request(f: Frame) -> bool:
        return any(m.kind == "request" for m in parse_payload(f.payload))

    def _gateway(self, address: str, ts: float) -> GatewayObs | None:
        gw = self.obs.gateways.get(address)
        if gw is None:
            if len(self.obs.gateways) >= MAX_GATEWAYS:
                self.obs.skipped_frames += 1
                # counted while the set of skipped addresses can tell a new one from a seen
                # one; past that the count is a lower bound ("at least")
                if address not in self._skipped and len(self._skipped) < MAX_GATEWAYS:
                    self._skipped.add(address)
                    self.obs.skipped_gateways += 1
                return None
            gw = GatewayObs(address, inferred=not self.gateway, first_ts=ts)
            self.obs.gateways[address] = gw
        return gw

    def _conn(self, gw: GatewayObs, key: ConnKey, f: Frame, *, create: bool) -> Conn | None:
        conn = gw.conns.get(key)
        if conn is None and create:
            if len(gw.conns) >= MAX_CONNECTIONS:
                gw.conns.pop(next(iter(gw.conns)))
            conn = Conn(key[2], key[3], key[4], f.frame, f.ts)
            gw.conns[key] = conn
        return conn

    def _outbound(self, gw: GatewayObs, f: Frame) -> None:
        if f.dport not in self.ports:
            if f.proto == TCP and f.tcp_flags & (SYN | ACK) == SYN:
                frames = gw.odd_ports.get((f.dst, f.dport))
                if frames is None:
                    if len(gw.odd_ports) >= MAX_ODD_PORTS:
                        gw.odd_ports_more += 1  # a port scan must not grow a table per port
                        return
                    frames = gw.odd_ports[(f.dst, f.dport)] = []
                if len(frames) < MAX_ODD_PORT_FRAMES:
                    frames.append(f.frame)
            return
        key: ConnKey = (gw.address, f.sport, f.dst, f.dport, f.proto)
        if f.proto == TCP:
            self._tcp_out(gw, key, f)
        else:
            self._udp_out(gw, key, f)

    def _tcp_out(self, gw: GatewayObs, key: ConnKey, f: Frame) -> None:
        if f.tcp_flags & (SYN | ACK) == SYN:
            existing = gw.by_conn.get(key)
            if existing is not None and not existing.conn.close_frame:
                if len(existing.retransmissions) < MAX_RETRANSMISSIONS:
                    existing.retransmissions.append(f.frame)
                return
            gw.conns.pop(key, None)
            conn = self._conn(gw, key, f, create=True)
            assert conn is not None
            self._new_attempt(gw, key, Attempt(f.frame, f.ts, f.dst, f.dport, TCP, conn))
            return
        conn = self._conn(gw, key, f, create=True)
        assert conn is not None
        if key not in gw.by_conn:
            _mark_session(gw, conn)
        if f.tcp_flags & (RST | FIN) and not conn.close_frame:
            conn.close_frame, conn.close_ts = f.frame, f.ts
            conn.close_kind = "RST" if f.tcp_flags & RST else "FIN"
        _tls_record(conn, f, inbound=False)
        self._megaco_out(gw, key, conn, f)

    def _udp_out(self, gw: GatewayObs, key: ConnKey, f: Frame) -> None:
        conn = self._conn(gw, key, f, create=True)
        assert conn is not None
        self._megaco_out(gw, key, conn, f)

    def _megaco_out(self, gw: GatewayObs, key: ConnKey, conn: Conn, f: Frame) -> None:
        for msg in _messages(conn, True, f):
            conn.megaco_seen = True
            if msg.kind != "request" or not msg.service_change:
                continue
            tid_key = (f.dst, msg.transaction_id)
            attempt = gw.by_conn.get(key) if f.proto == TCP else gw.by_tid.get(tid_key)
            if f.proto == UDP and attempt is not None:
                if len(attempt.retransmissions) < MAX_RETRANSMISSIONS:
                    attempt.retransmissions.append(f.frame)
                continue
            if attempt is None:
                attempt = Attempt(f.frame, f.ts, f.dst, f.dport, f.proto, conn)
                self._new_attempt(gw, key, attempt)
            if not attempt.service_change:
                attempt.service_change = f.frame
                attempt.transaction_id = msg.transaction_id
            gw.by_tid[tid_key] = attempt

    def _new_attempt(self, gw: GatewayObs, key: ConnKey, attempt: Attempt) -> None:
        if len(gw.attempts) >= MAX_ATTEMPTS or self.obs.total_attempts >= MAX_TOTAL_ATTEMPTS:
            gw.dropped_attempts += 1
            return
        self.obs.total_attempts += 1
        gw.attempts.append(attempt)
        if attempt.proto == TCP:
            gw.by_conn[key] = attempt
        if len(gw.by_conn) > MAX_CONNECTIONS:
            gw.by_conn.pop(next(iter(gw.by_conn)))
        if len(gw.by_tid) > MAX_CONNECTIONS:
            gw.by_tid.pop(next(iter(gw.by_tid)))

    def _inbound(self, gw: GatewayObs, f: Frame) -> None:
        if f.sport not in self.ports:
            return
        key: ConnKey = (gw.address, f.dport, f.src, f.sport, f.proto)
        conn = gw.conns.get(key)
        if conn is None:
            conn = self._conn(gw, key, f, create=True)
            assert conn is not None
            if f.proto == TCP:
                _mark_session(gw, conn)
        conn.last_rx_frame, conn.last_rx_ts = f.frame, f.ts
        attempt = gw.by_conn.get(key) if f.proto == TCP else None
        if f.proto == TCP:
            self._tcp_in(conn, attempt, f)
        for msg in _messages(conn, False, f):
            conn.megaco_seen = True
            target = attempt or gw.by_tid.get((f.src, msg.transaction_id))
            if target is not None and msg.kind == "reply" and not target.reply:
                target.reply, target.reply_ts, target.error = f.frame, f.ts, msg.error
                target.redirect = msg.redirect
            elif target is None and f.proto == UDP:
                _mark_session(gw, conn)  # MEGACO from the controller outside a registration

    @staticmethod
    def _tcp_in(conn: Conn, attempt: Attempt | None, f: Frame) -> None:
        flags = f.tcp_flags
        if flags & SYN and flags & ACK and not conn.syn_ack:
            conn.syn_ack = f.frame
        if flags & (RST | FIN) and not conn.close_frame:
            conn.close_frame, conn.close_ts = f.frame, f.ts
            conn.close_kind = "RST" if flags & RST else "FIN"
            if attempt is not None and flags & RST and not conn.syn_ack:
                attempt.refused = f.frame
        if f.payload:
            conn.controller_payload = True
            if not conn.data_frame:
                conn.data_frame, conn.data_ts = f.frame, f.ts
            _tls_record(conn, f, inbound=True)


def _mark_session(gw: GatewayObs, conn: Conn) -> None:
    """Remember *conn* as a link set up before the capture (the newest are kept)."""
    if not conn.session:
        conn.session = True
        gw.sessions.append(conn)


def _messages(conn: Conn, outbound: bool, f: Frame) -> list[MegacoMessage]:
    """MEGACO messages in this frame; over TCP a TPKT packet may span segments."""
    if f.proto != TCP:
        return parse_payload(f.payload)
    if not f.payload:
        return []
    data = conn.pending.pop(outbound, b"") + f.payload
    messages, rest = parse_stream(data)
    if rest and len(rest) <= MAX_PENDING:
        conn.pending[outbound] = rest
    return messages
