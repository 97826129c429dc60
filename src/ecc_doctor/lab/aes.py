"""The lab AES: DMCC XML over TCP (plain and TLS) and the OAM console over HTTPS.

DMCC follows PROTOCOLS.md 2.2-2.4: the 8-byte header, StartApplicationSession with the CTI
user's credentials and protocol-version negotiation, ResetApplicationSessionTimer,
StopApplicationSession, session duration and cleanup delay (a dropped connection leaves the
session for ``sessionCleanupDelay`` seconds, recoverable by its sessionID). The OAM lists the
open sessions on its DMCC Service Summary page, plus a resident session of the ECC service.

Faults: ``aes-restart`` (DMCC ports drop every connection and refuse for
:attr:`AesEmulator.restart_s` seconds, default 5, then AES is back by itself; a ``heal`` brings it
back at once; every session is gone, the ECC service's session comes back with AES) and ``dmcc-license-exhausted``
(StartApplicationSession gets a NegResponse ``maxNumberSessions``: the definedError comes from
the ECMA-354 schema, that AES uses it for an exhausted DMCC license pool is INFERRED).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ecc_doctor.lab.aes_oam import LOGOUT_PATH, OamSite, Row
from ecc_doctor.lab.base import LabEnv
from ecc_doctor.lab.tcp_service import TcpService

NS_APPL = "http://www.ecma-international.org/standards/ecma-354/appl_session"
_CSTA = "http://www.ecma-international.org/standards/ecma-323/csta"
#: The lab plays AES 7.0: it speaks every version up to privA (PROTOCOLS.md 2.3).
SUPPORTED_VERSIONS = ("3.0", f"{_CSTA}/ed2/priv1") + tuple(
    f"{_CSTA}/ed3/priv{n}" for n in "123456789A"
)
CTI_USER = "ctiuser"
ECC_FAR_END = "192.0.2.50:45120"
ECC_APPLICATION = "EngagementCallControl"
MAX_DURATION = 1800
LICENSES = 16
_HEADER = struct.Struct(">HH4s")


@dataclass
class LabSession:
    """One DMCC application session as AES keeps it."""

    session_id: str
    user: str
    application: str
    far_end: str
    encrypted: bool
    duration: int
    cleanup_delay: int
    expires_at: float
    connection: int | None
    version: str = ""
    dropped_at: float | None = None
    devices: int = 0

    def row(self) -> Row:
        kind = "XML Encrypted" if self.encrypted else "XML Unencrypted"
        return (
            self.session_id,
            self.user,
            self.application,
            self.far_end,
            kind,
            str(self.devices),
        )


def _session_id() -> str:
    return secrets.token_hex(16).upper() + "-0"


def _text(root: ET.Element, name: str) -> str:
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == name:
            return (el.text or "").strip()
    return ""


def _int(text: str, default: int) -> int:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 9 else default


def _appl(root: str, inner: str) -> bytes:
    xml = f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{NS_APPL}">{inner}</{root}>'
    return xml.encode("utf-8")


def _neg(root: str, error: str) -> bytes:
    return _appl(root, f"<errorCode><definedError>{error}</definedError></errorCode>")


class AesEmulator:
    """DMCC on two ports (4721-like plain, 4722-like TLS) and the OAM console on HTTPS."""

    name = "aes"
    faults: tuple[str, ...] = ("aes-restart", "dmcc-license-exhausted")

    def __init__(self, far_end: str = ECC_FAR_END, restart_s: float = 5.0) -> None:
        #: how long an ``aes-restart`` keeps DMCC down before AES is back by itself (0: until
        #: healed)
        self.restart_s = restart_s
        self._restart_timer: asyncio.Task[None] | None = None
        self._restart_lock = asyncio.Lock()
        self.sessions: dict[str, LabSession] = {}
        self.resident: LabSession | None = None
        self.far_end = far_end
        self.license_exhausted = False
        self.restarting = False
        self.network_up = True
        self.protocol_errors = 0
        self.password = ""
        self._conn_ids = 0
        self.tls_port = 0
        self._plain = TcpService(self._serve_plain)
        # the TSAPI Service port (app note 6.7: 450): a listener only, for net.reachability;
        # the lab does not speak TSAPI
        self._tsapi = TcpService(_serve_tsapi)
        self._tls: TcpService | None = None
        self._oam: TcpService | None = None
        self._site: OamSite | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, env: LabEnv) -> dict[str, Any]:
        # ECC reaches CM through AES: while AES restarts, CM's link and ECC's calls are down
        env.links.aes_up = lambda: not self.restarting and self.network_up
        self.password, password_ref = env.secret("aes-cti")
        oam_password, oam_ref = env.secret("aes-oam")
        self._tls = TcpService(self._serve_tls, ssl_context=env.ca.server_context("aes-dmcc"))
        self._site = OamSite("cust", oam_password, self.session_rows)
        self._oam = TcpService(self._site.handle, ssl_context=env.ca.server_context("aes-oam"))
        plain = await self._plain.up()
        tsapi = await self._tsapi.up()
        tls = await self._tls.up()
        oam = await self._oam.up()
        self.tls_port = tls
        self._add_resident()
        return {
            "aes": {
                "host": env.host,
                "username": CTI_USER,
                "password": password_ref,
                "dmcc_port": plain,
                "tsapi_port": tsapi,
                "dmcc_tls": False,
                "ca_file": str(env.ca.ca_file),
                "oam_url": f"https://{env.host}:{oam}",
                "oam_username": "cust",
                "oam_password": oam_ref,
                "oam_logout_path": LOGOUT_PATH,
                "expected_far_end": self.far_end.rsplit(":", 1)[0],
                "session_duration_s": 120,
                "cleanup_delay_s": 30,
            }
        }

    async def stop(self) -> None:
        self._cancel_restart_timer()
        for service in self._services():
            await service.down()
        self.sessions.clear()

    def _services(self) -> list[TcpService]:
        return [s for s in (self._plain, self._tls, self._tsapi, self._oam) if s is not None]

    async def set_fault(self, fault: str, active: bool) -> None:
        if fault == "dmcc-license-exhausted":
            self.license_exhausted = active
        elif fault == "aes-restart":
            self._cancel_restart_timer()
            if active:
                await self._restart_begins()
                if self.restart_s > 0:
                    self._restart_timer = asyncio.create_task(
                        self._back_after_restart(), name="lab-aes-restart"
                    )
            else:
                await self._restart_ends()
        else:
            raise KeyError(fault)

    def fault_over(self, fault: str) -> bool:
        """Whether *fault*, still injected, is over by itself: an ``aes-restart`` is once
        AES is back after ``restart_s`` (the lab then no longer lists it as active)."""
        return fault == "aes-restart" and not self.restarting

    async def _restart_begins(self) -> None:
        async with self._restart_lock:
            self.restarting = True
            await self._set_dmcc(up=False)
            self.sessions.clear()
            self.resident = None

    async def _restart_ends(self) -> None:
        async with self._restart_lock:  # a heal and the timer may both end the restart
            if not self.restarting:
                return
            await self._set_dmcc(up=self.network_up)
            self._add_resident()
            self.restarting = False  # only now: status() says "back" once the ports listen

    async def _back_after_restart(self) -> None:
        await asyncio.sleep(self.restart_s)
        self._restart_timer = None
        await self._restart_ends()

    def _cancel_restart_timer(self) -> None:
        timer, self._restart_timer = self._restart_timer, None
        if timer is not None:
            timer.cancel()

    async def set_network(self, up: bool) -> None:
        self.network_up = up
        await self._set_dmcc(up=up and not self.restarting)
        if self._oam is not None:
            await (self._oam.up() if up else self._oam.down())

    async def _set_dmcc(self, *, up: bool) -> None:
        for service in (self._plain, self._tls, self._tsapi):
            if service is not None:
                await (service.up() if up else service.down())

    def status(self) -> dict[str, Any]:
        self._sweep()
        return {
            "open_sessions": len(self.sessions),
            "dmcc_tls_port": self.tls_port,
            "restarting": self.restarting,
            "ecc_session": self.resident is not None,
            "connections": sum(s.connections for s in (self._plain, self._tls) if s),
            "protocol_errors": self.protocol_errors,
            "oam_logins": self._site.logins if self._site else 0,
        }

    # -- sessions ----------------------------------------------------------------------------

    def _add_resident(self) -> None:
        self.resident = LabSession(
            _session_id(), CTI_USER, ECC_APPLICATION, self.far_end, False, MAX_DURATION, 60,
            float("inf"), None, devices=2,
        )  # fmt: skip

    def session_rows(self) -> list[Row]:
        self._sweep()
        resident = [self.resident] if self.resident else []
        return [s.row() for s in [*resident, *self.sessions.values()]]

    def _sweep(self) -> None:
        now = time.monotonic()
        for sid, s in list(self.sessions.items()):
            dropped = s.dropped_at is not None and now > s.dropped_at + s.cleanup_delay
            if dropped or now > s.expires_at:
                del self.sessions[sid]

    # -- DMCC connections --------------------------------------------------------------------

    async def _serve_plain(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await self._serve(reader, writer, encrypted=False)

    async def _serve_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve(reader, writer, encrypted=True)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, encrypted: bool
    ) -> None:
        self._conn_ids += 1
        conn = self._conn_ids
        peer = writer.get_extra_info("peername") or ("?", 0)
        far_end = f"{peer[0]}:{peer[1]}"
        try:
            while True:
                frame = await self._read(reader)
                if frame is None:
                    return
                invoke_id, root = frame
                try:
                    body = self._answer(root, conn, far_end, encrypted)
                except Exception:  # a request we cannot make sense of: drop the link
                    self.protocol_errors += 1
                    return
                writer.write(_HEADER.pack(0, 8 + len(body), invoke_id) + body)
                await writer.drain()
        finally:
            now = time.monotonic()
            for s in self.sessions.values():
                if s.connection == conn:
                    s.connection, s.dropped_at = None, now

    async def _read(self, reader: asyncio.StreamReader) -> tuple[bytes, ET.Element] | None:
        """One framed request; None (the connection closes) on EOF or a hostile frame."""
        try:
            async with asyncio.timeout(MAX_DURATION):
                head = await reader.readexactly(8)
            _version, length, invoke_id = _HEADER.unpack(head)
            if length < 8 or not (invoke_id.isascii() and invoke_id.isdigit()):
                self.protocol_errors += 1
                return None
            async with asyncio.timeout(10):
                body = await reader.readexactly(length - 8)
            return invoke_id, fromstring(body, forbid_dtd=True)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            return None
        except (ET.ParseError, DefusedXmlException, ValueError):
            self.protocol_errors += 1
            return None

    def _answer(self, root: ET.Element, conn: int, far_end: str, encrypted: bool) -> bytes:
        self._sweep()
        name = root.tag.rsplit("}", 1)[-1]
        if name == "StartApplicationSession":
            return self._start(root, conn, far_end, encrypted)
        session = self.sessions.get(_text(root, "sessionID"))
        if name == "ResetApplicationSessionTimer":
            if session is None or session.connection != conn:
                return _neg("ResetApplicationSessionTimerNegResponse", "invalidSessionID")
            session.duration = self._duration(_text(root, "requestedSessionDuration"))
            session.expires_at = time.monotonic() + session.duration
            inner = f"<actualSessionDuration>{session.duration}</actualSessionDuration>"
            return _appl("ResetApplicationSessionTimerPosResponse", inner)
        if name == "StopApplicationSession":
            if session is None or session.connection != conn:
                return _neg("StopApplicationSessionNegResponse", "invalidSessionID")
            del self.sessions[session.session_id]
            return _appl("StopApplicationSessionPosResponse", "")
        return (
            b'<?xml version="1.0" encoding="UTF-8"?><CSTAErrorCode '
            b'xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">'
            b"<operation>generic</operation></CSTAErrorCode>"
        )

    def _start(self, root: ET.Element, conn: int, far_end: str, encrypted: bool) -> bytes:
        neg = "StartApplicationSessionNegResponse"
        if _text(root, "userName") != CTI_USER or _text(root, "password") != self.password:
            return _neg(neg, "invalidApplicationInfo")
        old = self.sessions.get(_text(root, "sessionID"))
        if old is not None and old.connection is None and old.user == CTI_USER:
            old.connection, old.dropped_at, old.far_end = conn, None, far_end
            return self._granted(old, old.version)
        if self.license_exhausted or len(self.sessions) >= LICENSES:
            return _neg(neg, "maxNumberSessions")
        offered = [
            (el.text or "").strip()
            for el in root.iter()
            if el.tag.rsplit("}", 1)[-1] == "protocolVersion"
        ]
        version = next((v for v in offered if v in SUPPORTED_VERSIONS), None)
        if version is None:
            return _neg(neg, "requestedProtocolVersionNotSupported")
        duration = self._duration(_text(root, "requestedSessionDuration"))
        delay = _int(_text(root, "sessionCleanupDelay"), 60)
        session = LabSession(
            _session_id(), CTI_USER, _text(root, "applicationID") or "?", far_end, encrypted,
            duration, delay, time.monotonic() + duration, conn, version,
        )  # fmt: skip
        self.sessions[session.session_id] = session
        return self._granted(session, version)

    def _granted(self, session: LabSession, version: str) -> bytes:
        inner = (
            f"<sessionID>{session.session_id}</sessionID>"
            f"<actualProtocolVersion>{version}</actualProtocolVersion>"
            f"<actualSessionDuration>{session.duration}</actualSessionDuration>"
        )
        return _appl("StartApplicationSessionPosResponse", inner)

    @staticmethod
    def _duration(requested: str) -> int:
        return max(10, min(_int(requested, 180), MAX_DURATION))


async def _serve_tsapi(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The lab's TSAPI port: accept, wait (bounded) for the client to hang up, close."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(reader.read(4096), 5.0)
