"""AES DMCC application sessions over XML/TCP (4721 plain, 4722 TLS), PROTOCOLS.md section 2.

>>> async def demo(cfg, transcript):                      # doctest: +SKIP
...     async with DmccSession(cfg, transcript) as session:
...         print(session.info.protocol_version, session.info.duration_s)
...         await session.reset_timer()

The session is always stopped (StopApplicationSession) when the ``async with`` block ends, also
on error, timeout and cancellation; if the connection is already broken, the transcript says so
and AES drops the session after ``sessionCleanupDelay``. A reader task matches responses to
requests by invoke ID; unsolicited events (invoke ID 9999) are routed by root element and
otherwise ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from types import TracebackType

from ecc_doctor.config.aes import AesConfig
from ecc_doctor.errors import AuthError, ConnectError, ProbeError, ProbeTimeout, ProtocolError
from ecc_doctor.probes.dmcc_frame import (
    EVENT_INVOKE_ID,
    MAX_INVOKE_ID,
    child_text,
    encode_frame,
    local_name,
    parse_xml,
    read_frame,
)
from ecc_doctor.probes.dmcc_messages import (
    PROTOCOL_VERSIONS,
    compact,
    release_of,
    reset_request,
    resolve_version,
    start_request,
    start_shown,
    stop_request,
)
from ecc_doctor.probes.tcp import describe_cert_error, describe_os_error
from ecc_doctor.probes.timefmt import seconds
from ecc_doctor.transcript import Transcript

#: NegResponse definedErrors (ECMA-354 schema, [CODE] Ratcow) that mean "AES is out of capacity":
#: a DMCC license pool that is used up most likely shows as one of these [INFERRED].
CAPACITY_ERRORS = frozenset({"maxNumberSessions", "serverResourcesBusy"})
_STOP_TIMEOUT = 5.0
_MAX_STALE = 64


def _is_int(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) < 10


class SessionRefused(ProbeError):
    """AES answered StartApplicationSession with a NegResponse other than bad credentials."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def capacity(self) -> bool:
        """True when the reason means no free session/licence (not a misconfiguration)."""
        return self.reason in CAPACITY_ERRORS


@dataclass(frozen=True)
class SessionInfo:
    """What StartApplicationSessionPosResponse granted."""

    session_id: str
    protocol_version: str
    duration_s: int
    open_s: float


def tls_context(cfg: AesConfig) -> ssl.SSLContext:
    """Verifying client context: the configured CA bundle (or system CAs), hostname checked."""
    cafile = str(cfg.ca_file) if cfg.ca_file else None
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ConnectError(f"cannot load CA file {cafile}: {exc}") from exc


class DmccSession:
    """One DMCC application session: ``async with`` opens it and always stops it."""

    def __init__(
        self,
        cfg: AesConfig,
        transcript: Transcript,
        *,
        connect_timeout: float = 5.0,
        io_timeout: float = 10.0,
    ) -> None:
        self.cfg = cfg
        self.transcript = transcript
        self.connect_timeout = connect_timeout
        self.io_timeout = io_timeout
        self.info: SessionInfo | None = None
        #: Why the session could not be stopped cleanly ("" when it was, or never opened).
        self.stop_problem = ""
        self.events: Counter[str] = Counter()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[ET.Element]] = {}
        self._stale: set[int] = set()
        self._next_id = 0
        self._dead: ProbeError | None = None
        self._orphan = ""
        self._last_info: SessionInfo | None = None
        self._orphan_seen = asyncio.Event()

    @property
    def where(self) -> str:
        scheme = "TLS" if self.cfg.dmcc_tls else "plain"
        return f"AES DMCC {self.cfg.host}:{self.cfg.dmcc_port} ({scheme})"

    async def __aenter__(self) -> DmccSession:
        await self._connect()
        async with contextlib.AsyncExitStack() as undo:  # close the socket if start fails
            undo.push_async_callback(self._close)
            try:
                await self._start()
            except (asyncio.CancelledError, ProbeTimeout):
                await self._stop_orphan()  # the AES may have started it after all
                raise
            except ProbeError:
                if self.info is not None:  # granted, but the grant was malformed: stop it
                    await self._stop()
                raise
            undo.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._stop()
        finally:
            await self._close()

    # -- transport ---------------------------------------------------------------------------

    async def _connect(self) -> None:
        cfg = self.cfg
        ctx = tls_context(cfg) if cfg.dmcc_tls else None
        self.transcript.note(f"connecting to {self.where}")
        try:
            async with asyncio.timeout(self.connect_timeout):
                self._reader, self._writer = await asyncio.open_connection(
                    cfg.host, cfg.dmcc_port, ssl=ctx, server_hostname=cfg.host if ctx else None
                )
        except TimeoutError as exc:
            raise ConnectError(
                f"{self.where}: timed out after {seconds(self.connect_timeout)} s"
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            ca = f"aes.ca_file ({cfg.ca_file or 'system CAs'})"
            raise ConnectError(f"{self.where}: {describe_cert_error(exc, ca, 'aes.host')}") from exc
        except ssl.SSLError as exc:
            raise ConnectError(f"{self.where}: TLS handshake failed: {exc.reason or exc}") from exc
        except OSError as exc:
            raise ConnectError(f"{self.where}: {describe_os_error(exc)}") from exc
        self._read_task = asyncio.create_task(self._read_loop(), name="dmcc-reader")

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while True:
                frame = await read_frame(self._reader, self.io_timeout, idle_timeout=None)
                self._dispatch(frame.invoke_id, frame.body)
        except ProbeError as exc:
            self._die(self._here(exc))
        except Exception as exc:  # never let the reader die silently: fail every waiter
            self._die(ProtocolError(f"{self.where}: unreadable DMCC message ({exc})"))

    def _dispatch(self, invoke_id: int, body: bytes) -> None:
        text = body.decode("utf-8", "replace")
        self.transcript.received(f"[{invoke_id:04d}] {compact(text)}")
        waiter = self._pending.get(invoke_id)
        try:
            root = parse_xml(body)
        except ProtocolError as exc:
            if waiter is not None and not waiter.done():
                waiter.set_exception(self._here(exc))
                return
            raise
        if invoke_id == EVENT_INVOKE_ID:
            self.events[local_name(root.tag)] += 1  # unsolicited: routed by root, ignored
            return
        if waiter is not None:
            if waiter.cancelled():  # its requester was cancelled a moment ago
                self._abandoned_answer(invoke_id, root)
            elif not waiter.done():
                waiter.set_result(root)
            return
        if invoke_id in self._stale:
            self._stale.discard(invoke_id)
            self._abandoned_answer(invoke_id, root)
            return
        problem = ProtocolError(
            f"{self.where}: response with invoke ID {invoke_id:04d} matches no request "
            f"(waiting for {', '.join(f'{i:04d}' for i in self._pending) or 'nothing'})"
        )
        for other in self._pending.values():
            if not other.done():
                other.set_exception(problem)
        self.transcript.note(problem.message)

    def _here(self, exc: ProbeError) -> ProbeError:
        """*exc* with its message naming this AES endpoint (frame errors do not know it)."""
        if exc.message.startswith(self.where):
            return exc
        try:
            located = type(exc)(f"{self.where}: {exc.message}")
        except TypeError:  # a subclass with another constructor: keep it as it is
            return exc
        located.__cause__ = exc
        return located

    def _abandoned_answer(self, invoke_id: int, root: ET.Element) -> None:
        """An answer to a request we gave up on: remember a session AES granted anyway."""
        if local_name(root.tag) == "StartApplicationSessionPosResponse":
            self._orphan = child_text(root, "sessionID")
            self._orphan_seen.set()
        self.transcript.note(f"late answer to abandoned request {invoke_id:04d} ignored")

    def _give_up(self, invoke_id: int, waiter: asyncio.Future[ET.Element]) -> None:
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            # the answer arrived in the same instant as the timeout or cancellation
            self._abandoned_answer(invoke_id, waiter.result())
        else:
            self._remember_stale(invoke_id)

    def _die(self, exc: ProbeError) -> None:
        self._dead = exc
        self.transcript.note(f"connection unusable: {exc.message}")
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(exc)
        if self._writer is not None:
            self._writer.transport.abort()

    def _invoke_id(self) -> int:
        for _ in range(MAX_INVOKE_ID):
            self._next_id = self._next_id % MAX_INVOKE_ID + 1
            if self._next_id not in self._pending and self._next_id not in self._stale:
                return self._next_id
        raise ProtocolError("no free DMCC invoke ID")  # 9998 requests outstanding: a bug

    async def request(
        self, body: str, *, timeout: float | None = None, shown: str = ""
    ) -> ET.Element:
        """Send *body*, wait for the response with the same invoke ID, return its root element."""
        if self._dead is not None:
            raise self._dead
        assert self._writer is not None
        limit = self.io_timeout if timeout is None else timeout
        invoke_id = self._invoke_id()
        waiter: asyncio.Future[ET.Element] = asyncio.get_running_loop().create_future()
        self._pending[invoke_id] = waiter
        try:
            self.transcript.sent(f"[{invoke_id:04d}] {shown or compact(body)}")
            async with asyncio.timeout(limit):
                self._writer.write(encode_frame(invoke_id, body.encode("utf-8")))
                await self._writer.drain()
                return await waiter
        except TimeoutError as exc:
            self._give_up(invoke_id, waiter)
            raise ProbeTimeout(f"{self.where}: no answer within {seconds(limit)} s") from exc
        except asyncio.CancelledError:
            self._give_up(invoke_id, waiter)
            raise
        except OSError as exc:
            raise ConnectError(f"{self.where}: {describe_os_error(exc)}") from exc
        finally:
            self._pending.pop(invoke_id, None)

    def _remember_stale(self, invoke_id: int) -> None:
        if len(self._stale) >= _MAX_STALE:
            self._stale.clear()
        self._stale.add(invoke_id)

    async def _close(self) -> None:
        if self._read_task is not None:
            self._read_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._read_task
            self._read_task = None
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            try:
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            except (TimeoutError, OSError, ssl.SSLError):
                writer.transport.abort()

    # -- application session -----------------------------------------------------------------

    async def _start(self) -> None:
        password = self.cfg.password.reveal()
        body = start_request(self.cfg, password)
        self.transcript.note(
            f"StartApplicationSession as {self.cfg.username} (applicationID "
            f"{self.cfg.application_id}), offering {', '.join(self.cfg.protocol_versions)}; "
            f"duration {self.cfg.session_duration_s} s, cleanup delay {self.cfg.cleanup_delay_s} s"
        )
        t0 = time.perf_counter()
        root = await self.request(body, shown=start_shown(self.cfg))
        elapsed = time.perf_counter() - t0
        name = local_name(root.tag)
        if name == "StartApplicationSessionNegResponse":
            raise self._refusal(root)
        if name != "StartApplicationSessionPosResponse":
            raise ProtocolError(f"{self.where}: answered StartApplicationSession with <{name}>")
        session_id = child_text(root, "sessionID")
        version = child_text(root, "actualProtocolVersion")
        duration = child_text(root, "actualSessionDuration")
        lacks = (
            f"{self.where}: StartApplicationSessionPosResponse lacks sessionID or "
            "actualSessionDuration"
        )
        if not session_id:
            raise ProtocolError(lacks)
        granted = int(duration) if _is_int(duration) else None
        # AES holds this session now: remember it so every way out stops it
        self.info = SessionInfo(session_id, version, granted or 0, elapsed)
        if granted is None:
            raise ProtocolError(lacks)
        self.transcript.note(
            f"session {session_id} open: protocol {version} (AES {release_of(version)}), "
            f"duration {duration} s"
        )

    def _refusal(self, root: ET.Element) -> ProbeError:
        defined = child_text(root, "errorCode/definedError")
        reason = defined or child_text(root, "errorCode/applError") or "no reason given"
        if defined == "invalidApplicationInfo":
            return AuthError(
                f"AES refused the CTI user {self.cfg.username} (invalidApplicationInfo: wrong "
                f"password, not a CTI user, or applicationID rejected)"
            )
        if defined in CAPACITY_ERRORS:
            return SessionRefused(
                reason,
                f"AES has no DMCC session to give ({reason}): DMCC licenses or sessions exhausted?",
            )
        if defined == "requestedProtocolVersionNotSupported":
            offered = ", ".join(self.cfg.protocol_versions)
            return SessionRefused(
                reason, f"AES supports none of the DMCC protocol versions offered ({offered})"
            )
        return SessionRefused(reason, f"AES refused the DMCC session: {reason}")

    async def reset_timer(self) -> int:
        """ResetApplicationSessionTimer (the keepalive); returns the granted duration."""
        info = self._require_info()
        root = await self.request(reset_request(info.session_id, self.cfg.session_duration_s))
        if local_name(root.tag) != "ResetApplicationSessionTimerPosResponse":
            reason = child_text(root, "errorCode/definedError") or local_name(root.tag)
            raise ProtocolError(f"{self.where}: session keepalive refused ({reason})")
        granted = child_text(root, "actualSessionDuration")
        return int(granted) if _is_int(granted) else info.duration_s

    def _require_info(self) -> SessionInfo:
        if self.info is None:
            raise ProtocolError("no DMCC session is open")
        return self.info

    async def _stop_orphan(self) -> None:
        """The start was abandoned (timeout, cancellation): if AES still grants the session
        within a second, stop it rather than leave a ghost session behind."""
        if self._dead is not None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await self._orphan_seen.wait()
        if self._orphan:
            self.transcript.note(f"stopping session {self._orphan} granted after we gave up")
            self.info = SessionInfo(self._orphan, "", 0, 0.0)
            await self._stop()

    @property
    def last_info(self) -> SessionInfo | None:
        """The session this object opened (kept after it was stopped)."""
        return self.info or self._last_info

    async def _stop(self) -> None:
        info, self.info = self.info, None
        if info is not None and info.protocol_version:
            self._last_info = info
        if info is None:
            return
        if self._dead is not None:
            self.stop_problem = f"connection broken ({self._dead.message})"
            self.transcript.note(
                f"connection broken: StopApplicationSession for {info.session_id} not sent; AES "
                f"drops the session after its cleanup delay ({self.cfg.cleanup_delay_s} s)"
            )
            return
        body = stop_request(info.session_id)
        try:
            root = await self.request(body, timeout=min(self.io_timeout, _STOP_TIMEOUT))
        except ProbeError as exc:
            self.stop_problem = exc.message
            self.transcript.note(
                f"StopApplicationSession failed ({exc.message}); AES drops the session after "
                f"its cleanup delay ({self.cfg.cleanup_delay_s} s)"
            )
            return
        if local_name(root.tag) == "StopApplicationSessionPosResponse":
            self.transcript.note(f"session {info.session_id} stopped")
        else:
            self.stop_problem = f"StopApplicationSession answered with <{local_name(root.tag)}>"
            self.transcript.note(self.stop_problem)


__all__ = [
    "CAPACITY_ERRORS",
    "PROTOCOL_VERSIONS",
    "DmccSession",
    "SessionInfo",
    "SessionRefused",
    "release_of",
    "resolve_version",
    "tls_context",
]
