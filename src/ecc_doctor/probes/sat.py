"""CM System Access Terminal over SSH (port 5022): login, Terminal Type, OSSI commands, logoff.

>>> async with open_sat(cm_config, transcript, connect_timeout=5) as sat:   # doctest: +SKIP
...     status = await sat.query("status aesvcs cti-link")

Facts followed (PROTOCOLS.md 4.1/4.2): SSH to 5022 lands in SAT; the login is SSH password or
keyboard-interactive auth (prompts containing "Password"), and the password is sent once per
connection whatever the methods offered; CM then asks
``Terminal Type (513, 715, 4410, 4425, VT220, NTT, W2KTT, SUNT): [513]``, we answer the
configured OSSI termtype and wait for the ready line ``t``. A command is ``c <command>`` then
``t``; the answer is c/f/d/n/e/t lines. Logoff is ``c logoff`` + ``t``, then ``y`` to
``Proceed With Logoff``. Every read is bounded in time and size; the connection is closed on
every way out (error, timeout, cancellation).

CM may lock an account after a few refused logins, so a refused user/password is not tried
again on that CM for :data:`~ecc_doctor.probes.ssh_common.REFUSAL_MEMORY_S` seconds: the other
cm.* checks give ERROR "not tried: ...", and until a login was accepted the checks log in one
at a time (so a wrong password is refused once per run, not once per check). Likewise a SAT
that accepts the SSH login but never shows its prompt is not tried again for
:data:`~ecc_doctor.probes.ssh_common.HANG_MEMORY_S` seconds (the queued checks do not each
wait out the prompt timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from ecc_doctor.config.cm import CmConfig
from ecc_doctor.errors import AuthError, ConnectError, ProbeTimeout, ProtocolError
from ecc_doctor.netaddr import host_port
from ecc_doctor.probes import sat_ossi, sat_records, sat_screens, vt220
from ecc_doctor.probes.sat_ossi import OssiResponse
from ecc_doctor.probes.ssh_common import LoginGuard, LoginKey, readable_known_hosts
from ecc_doctor.probes.tcp import describe_os_error
from ecc_doctor.probes.timefmt import seconds
from ecc_doctor.transcript import Transcript

MAX_BUFFER = 1 << 20
MAX_LINES = 20000
TERMTYPE_PROMPT = re.compile(r"Terminal Type \(.+?\): \[.+?\]")
_READY = re.compile(r"(?:^|\n)[ \t\r]*t[ \t]*\r?\n")
_INBAND = {
    "termtype": TERMTYPE_PROMPT,
    "pin": re.compile(r"\bPIN\b"),
    "password": re.compile(r"[Pp]assword:\s*$"),
    "login": re.compile(r"[Ll]ogin:\s*$"),
}
_MORE = "more..y."

# VT220 (PROTOCOLS.md 4.1, pbxd definity.py): the command prompt is drawn as
# ``ESC[2;1H ... ESC[KCommand: ``; a page that has a next one ends in the paging prompt, or,
# on a form ("Page n of m" in its header), with the cursor parked in a field (``ESC[r;ccH
# ESC[0m``, pbxd's end-of-page marker); keys are VT220 function-key sequences; CM's messages
# (errors, the success banner) are on row 23. The prompt is taken only after ``ESC[K`` or
# at a line start, never after a bare cursor move (a screen cell reading "Command:").
_VT_PROMPT = re.compile(r"(?:\x1b\[K|^|[\r\n])Command: ?")
_VT_PARKED = re.compile(r"\x1b\[\d;\d\dH\x1b\[0m")
_VT_PAGE_OF = re.compile(r"Page\s+(\d+)\s+of\s+(\d+)")
#: how far back a new read is searched for a marker that began before it (each is shorter)
_MARKER_SPAN = 128
_VT_MORE = re.compile(r"press CANCEL to quit\s*--\s*press NEXT PAGE to continue")
_VT_DONE = re.compile(r"Command successfully completed")
NEXT_PAGE = "\x1b[6~"
CANCEL = "\x1b[3~"
#: pages of one command's output read at most (the screens we read have at most a few)
MAX_PAGES = 40
#: after the success banner, how long CM may take to show ``Command:`` before we press CANCEL
BANNER_GRACE_S = 2.0
MESSAGE_ROW = 22  # row 23


#: the only SAT verbs ecc-doctor sends (logoff aside): nothing on CM is ever changed
READ_ONLY_VERBS = ("display", "status", "list")


def _read_only(command: str) -> None:
    """ProtocolError unless *command* starts with a read-only verb (or its SAT abbreviation,
    2 letters at least): a plugin or a typo can never send CM a change, add or remove."""
    words = command.split()
    verb = words[0].lower() if words else ""
    # the whole verb: SAT abbreviations are ambiguous ("dis" is also "disable"), and one
    # line only (a newline would start a second command)
    if verb not in READ_ONLY_VERBS or not command.isprintable():
        raise ProtocolError(
            f"ecc-doctor sends CM only {', '.join(READ_ONLY_VERBS)} commands; refused: "
            f"{command[:60]!r}"
        )


def _page_of(text: str) -> tuple[int, int] | None:
    """``(n, m)`` of the "Page n of m" header of the page *text* draws, if it has one."""
    rows = vt220.pages(text)[-1] if text else []
    for row in rows[:3]:  # the header: the first row on CM's forms
        found = _VT_PAGE_OF.search(row)
        if found:
            return int(found.group(1)), int(found.group(2))
    return None


def vt220_mode(termtype: str) -> bool:
    """True when *termtype* gets VT220 screens (anything not ``ossi*``; config allows vt220)."""
    return not termtype.lower().startswith("ossi")


class LoginRefused(AuthError):
    """CM refused the user or password (remembered: not tried again for a while)."""


#: Refused SAT logins of this process (see the module docstring).
LOGINS = LoginGuard("CM")


class CommandRejected(ProtocolError):
    """CM answered a command with an ``e`` error line (e.g. an unknown link number)."""

    def __init__(self, command: str, cm_message: str) -> None:
        super().__init__(f"CM rejected '{command}': {cm_message}")
        self.command = command
        self.cm_message = cm_message


def default_known_hosts() -> Path:
    return Path("~/.ssh/known_hosts").expanduser()


#: keyboard-interactive rounds answered per connection (prompts without a password in them)
MAX_KBDINT_ROUNDS = 3


@dataclass
class _Auth:
    """What the SSH client answers; remembers whether the password went out, and any PIN."""

    password: str
    password_sent: bool = False
    kbdint_rounds: int = 0
    pin_requested: bool = False


class _SatClient(asyncssh.SSHClient):
    """Password and keyboard-interactive login; optional trust-on-first-use of host keys.

    The password goes out once per connection. After a refusal asyncssh asks again for the
    same method (SSH lets a client retry), and the other method follows: we decline both, so
    one wrong password costs one refused login, not two.
    """

    def __init__(self, auth: _Auth, known_hosts: Path, accept_new: bool, note: Any) -> None:
        self._auth = auth
        self._known_hosts = known_hosts
        self._accept_new = accept_new
        self._note = note

    def password_auth_requested(self) -> str | None:
        if self._auth.password_sent or self._auth.pin_requested:
            return None
        self._auth.password_sent = True
        return self._auth.password

    def kbdint_auth_requested(self) -> str | None:
        if self._auth.password_sent or self._auth.pin_requested:
            return None
        return ""

    def kbdint_challenge_received(
        self, name: str, instructions: str, lang: str, prompts: Any
    ) -> list[str] | None:
        if not prompts:
            return []
        self._auth.kbdint_rounds += 1
        if self._auth.kbdint_rounds > MAX_KBDINT_ROUNDS:
            return None
        answers = []
        for text, _echo in prompts:
            if "password" in text.lower():
                if self._auth.password_sent:
                    return None  # asked again: refused once is enough
                self._auth.password_sent = True
                answers.append(self._auth.password)
            elif "pin" in text.lower():
                self._auth.pin_requested = True
                return None
            else:
                answers.append("")
        return answers

    def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
        # Called only for keys not in known_hosts: trust-on-first-use when asked to, never
        # for a host that already has a (different) key on file.
        if not self._accept_new or _known_keys(self._known_hosts, host, addr, port):
            return False
        line = f"[{host}]:{port} " if port != 22 else f"{host} "
        line += key.export_public_key().decode("ascii").strip()
        with self._known_hosts.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        # the fingerprint, so the record can be compared with the one read off CM's console
        self._note(
            f"new host key {key.get_algorithm()} {key.get_fingerprint()} for "
            f"{host_port(host, port)} "
            f"trusted (accept_new_host_key) and added to {self._known_hosts}"
        )
        return True


def _known_keys(path: Path, host: str, addr: str, port: int) -> bool:
    try:
        known = asyncssh.read_known_hosts(str(path))
    except (OSError, ValueError):
        return False
    return bool(known.match(host, addr, port)[0])


@dataclass
class SatSession:
    """One logged-in OSSI session. Use :func:`open_sat` to get one."""

    process: Any
    transcript: Transcript
    where: str
    prompt_timeout: float
    command_timeout: float
    fields: dict[str, dict[str, str]]
    #: True: VT220 screens (rendered and parsed like pasted screens); False: OSSI records
    vt220: bool = False
    _buf: str = ""
    _mask: frozenset[str] = field(default=frozenset())
    #: what the session is doing, for errors: "the login", "'<command>'", "logoff"
    _doing: str = "the login"

    def __post_init__(self) -> None:
        self._mask = sat_ossi.secret_ids(self.fields)

    def _lost(self) -> ConnectError:
        return ConnectError(f"CM {self.where}: connection lost during {self._doing}")

    def _send(self, line: str, shown: str | None = None, end: str = "\n") -> None:
        """Write one line (or a key, *end* ""); a channel or connection that is gone is a
        ConnectError."""
        self.transcript.sent(line if shown is None else shown)
        try:
            self.process.stdin.write(line + end)
        except (asyncssh.Error, OSError) as exc:  # BrokenPipeError: "Channel not open ..."
            raise self._lost() from exc

    def _key(self, key: str, name: str) -> None:
        """Press a VT220 function key (NEXT PAGE, CANCEL)."""
        self._send(key, shown=f"({name})", end="")

    def _shown(self, text: str) -> str:
        """What a transcript keeps of received text: VT220 output as the screen shows it."""
        if not self.vt220 or "\x1b" not in text:
            return text
        return "\n".join(line for line in vt220.render(text) if line.strip())

    async def _read_more(
        self, what: str, deadline: float, limit: float, late: str | None = None
    ) -> None:
        """Read more output into the buffer; *late* is the timeout message (after "CM x: ")."""
        remaining = deadline - asyncio.get_running_loop().time()
        if len(self._buf) > MAX_BUFFER:
            raise ProtocolError(f"CM {self.where} sent over {MAX_BUFFER} bytes without {what}")
        late = late or f"no {what} within {seconds(limit)} s"
        timeout = ProbeTimeout(f"CM {self.where}: {late}")
        if remaining <= 0:
            raise timeout
        try:
            chunk = await asyncio.wait_for(self.process.stdout.read(4096), remaining)
        except TimeoutError as exc:
            raise timeout from exc
        except (asyncssh.Error, OSError) as exc:
            raise self._lost() from exc
        if not chunk:
            raise ConnectError(f"CM {self.where} closed the SAT session during {self._doing}")
        self._buf += chunk

    async def _expect(self, patterns: Mapping[str, re.Pattern[str]], what: str) -> str:
        """Wait for one of *patterns*; consume the text up to it; return its name."""
        deadline = asyncio.get_running_loop().time() + self.prompt_timeout
        while True:
            hits = [(m.end(), name) for name, p in patterns.items() if (m := p.search(self._buf))]
            if hits:
                end, name = min(hits)
                self.transcript.received(self._shown(self._buf[:end]))
                self._buf = self._buf[end:]
                return name
            await self._read_more(what, deadline, self.prompt_timeout)

    async def _marker(
        self, patterns: Mapping[str, re.Pattern[str]], what: str, deadline: float, late: str
    ) -> tuple[str, str, str]:
        """Wait (until *deadline*) for the first of *patterns*; consume up to its end and
        return its name, the text before it and its own text. Each read is searched from
        a little before its start, not from the top of the buffer again (a screen of 1 MiB
        without a marker is read in linear time)."""
        scanned = 0
        while True:
            hits = [
                (m.start(), m.end(), name)
                for name, p in patterns.items()
                if (m := p.search(self._buf, max(0, scanned - _MARKER_SPAN)))
            ]
            if hits:
                start, end, name = min(hits)
                before, matched = self._buf[:start], self._buf[start:end]
                self._buf = self._buf[end:]
                return name, before, matched
            scanned = len(self._buf)
            await self._read_more(what, deadline, self.command_timeout, late)

    async def login(self, username: str, password: str, termtype: str) -> None:
        """From a fresh SAT channel to the OSSI ready line ``t``."""
        what = "'Terminal Type (...): [513]' prompt"
        answered: set[str] = set()
        while True:  # some SATs log in again in-band: each prompt is answered once
            got = await self._expect(_INBAND, what)
            if got == "termtype":
                break
            if got == "pin":
                raise AuthError(f"CM {self.where} asks for a PIN: this login cannot use SAT")
            if got in answered:
                raise LoginRefused(
                    f"CM refused the login for user '{username}' at {self.where} "
                    f"(asked for the {got} again)"
                )
            answered.add(got)
            if got == "login":
                self._send(username)
            else:
                self._send(password, shown="(password)")
        self._send(termtype)
        if self.vt220:
            await self._expect(
                {"prompt": _VT_PROMPT}, f"'Command:' prompt after termtype {termtype}"
            )
        else:
            await self._expect({"ready": _READY}, f"OSSI ready line 't' after termtype {termtype}")

    async def _read_line(self, what: str, deadline: float, late: str) -> str:
        """The next line of output (answering ossit's ``more..y.`` pager on the way)."""
        while "\n" not in self._buf:
            if _MORE in self._buf:  # ossit pages its output
                self._buf = self._buf.replace(_MORE, "").lstrip("\r")
                self._send("y")
                continue
            await self._read_more(what, deadline, self.command_timeout, late)
        line, _, self._buf = self._buf.partition("\n")
        return line.rstrip("\r")

    async def ossi(self, command: str) -> OssiResponse:
        """Run *command* in OSSI; return its records (or its ``e`` error)."""
        _read_only(command)
        self._doing = f"'{command}'"
        self._send(f"c {command}")
        self._send("t")
        what = f"the end line 't' of the output of '{command}'"
        late = (
            f"'{command}' did not finish within {seconds(self.command_timeout)} s (no end line 't')"
        )
        deadline = asyncio.get_running_loop().time() + self.command_timeout
        lines: list[str] = []
        while len(lines) < MAX_LINES:
            line = await self._read_line(what, deadline, late)
            lines.append(line)
            if line.strip() == "t":
                break
        else:
            raise ProtocolError(f"CM {self.where}: '{command}' gave over {MAX_LINES} lines")
        try:
            canonical = sat_screens.command_of(command) or command
            response = sat_ossi.parse_ossi(
                lines, mask=self._mask, show_only=sat_ossi.shown_ids(self.fields, canonical)
            )
        except ProtocolError as exc:
            for line in lines:  # keep what we saw, masked as well as we can
                self.transcript.received(line if not line.startswith("d") else "d …")
            raise ProtocolError(f"CM {self.where}: '{command}': {exc.message}") from exc
        for line in response.masked_lines:
            self.transcript.received(line)
        return response

    async def screens(self, command: str) -> list[list[str]]:
        """Run *command* on the VT220 SAT; return its pages' rows (NEXT PAGE pressed until
        CM shows ``Command:`` again). Bounded: MAX_PAGES pages, MAX_BUFFER bytes, the command
        timeout. CM's message on row 23 (other than the success banner) is CommandRejected.
        """
        _read_only(command)
        self._doing = f"'{command}'"
        self._send(command)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.command_timeout
        late = (
            f"'{command}' did not finish within {seconds(self.command_timeout)} s "
            "(no 'Command:' prompt)"
        )
        what = f"the 'Command:' prompt after '{command}'"
        markers = {"prompt": _VT_PROMPT, "more": _VT_MORE, "done": _VT_DONE, "parked": _VT_PARKED}
        segments: list[str] = []
        text, size = "", 0
        try:
            while True:
                name, before, matched = await self._marker(markers, what, deadline, late)
                text += before
                size += len(before)
                if size > MAX_BUFFER:
                    raise ProtocolError(
                        f"CM {self.where}: '{command}' gave over {MAX_BUFFER} bytes"
                    )
                if name == "prompt":
                    segments.append(text)
                    break
                if name == "done":  # the prompt should follow; if not, CANCEL brings it
                    text += "Command successfully completed"
                    await self._prompt_after(what, deadline, late)
                    segments.append(text)
                    break
                if name == "parked":
                    page_of = _page_of(text)
                    if page_of is None:  # a cursor move within a page, not its end
                        text += matched
                        continue
                    if page_of[0] >= page_of[1]:  # the last page of a form: CANCEL ends it
                        segments.append(text)
                        self._key(CANCEL, "CANCEL")
                        await self._marker({"prompt": _VT_PROMPT}, what, deadline, late)
                        break
                segments.append(text)  # "more", or a form page with a next one
                text = ""
                self._record(segments[-1])
                if len(segments) >= MAX_PAGES:
                    self._key(CANCEL, "CANCEL")
                    raise ProtocolError(
                        f"CM {self.where}: '{command}' was still paging after {MAX_PAGES} "
                        "pages (pressed CANCEL)"
                    )
                self._key(NEXT_PAGE, "NEXT PAGE")
        except (ProbeTimeout, ProtocolError):
            # what CM showed is what an engineer needs to see why (a stuck or odd screen)
            self._record(text + self._buf)
            raise
        self._record(segments[-1])
        pages = [page for seg in segments for page in vt220.pages(seg)]
        # CM's message row is read only on a page drawn with cursor addressing: in plain
        # text, a 23rd line is data, not a message
        drawn = "\x1b[" in segments[-1]
        message = pages[-1][MESSAGE_ROW].strip() if drawn and len(pages[-1]) > MESSAGE_ROW else ""
        if message and not _VT_DONE.search(message) and not _VT_MORE.search(message):
            raise CommandRejected(command, message)
        return pages

    async def _prompt_after(self, what: str, deadline: float, late: str) -> None:
        """After the success banner: ``Command:`` should follow; if it does not within
        BANNER_GRACE_S, press CANCEL (once) and wait until *deadline*."""
        loop = asyncio.get_running_loop()
        grace = min(deadline, loop.time() + min(BANNER_GRACE_S, self.prompt_timeout))
        try:
            await self._marker({"prompt": _VT_PROMPT}, what, grace, late)
        except ProbeTimeout:
            self._key(CANCEL, "CANCEL")
            await self._marker({"prompt": _VT_PROMPT}, what, deadline, late)

    def _record(self, segment: str) -> None:
        """Keep a page in the transcript as the screen shows it (ip-services password column
        masked)."""
        lines = [line for line in vt220.render(segment) if line.strip()]
        self.transcript.received("\n".join(sat_screens.mask_password_column(lines)))

    async def query(self, command: str) -> sat_records.Screen:
        """Run *command*; its OSSI records or VT220 screens as the typed screen records."""
        canonical = sat_screens.command_of(command)
        if canonical is None:
            raise ProtocolError(f"ecc-doctor has no parser for '{command}'")
        if self.vt220:
            pages = await self.screens(command)
            text = "\n".join(line for page in pages for line in page)
            try:
                return sat_screens.parse_screen(text, canonical)
            except ProtocolError as exc:
                raise ProtocolError(f"CM {self.where}: '{command}': {exc.message}") from exc
        response = await self.ossi(command)
        if response.error:
            raise CommandRejected(command, response.error)
        return sat_records.from_ossi(canonical, response, self.fields)

    async def cti_status(self) -> sat_records.CtiLinkStatus:
        """``status aesvcs cti-link``."""
        screen = await self.query(sat_ossi.STATUS_CTI)
        assert isinstance(screen, sat_records.CtiLinkStatus)
        return screen

    async def form(self, command: str) -> sat_records.FieldScreen:
        """A form screen (customer-options, features, ``display cti-link N``)."""
        screen = await self.query(command)
        if not isinstance(screen, sat_records.FieldScreen):
            raise ProtocolError(f"'{command}' is not a form screen")
        return screen

    async def ip_services(self) -> sat_records.IpServices:
        """``display ip-services``."""
        screen = await self.query(sat_ossi.IP_SERVICES)
        assert isinstance(screen, sat_records.IpServices)
        return screen

    async def aesvcs_interface(self) -> sat_records.AesvcsInterfaceStatus:
        """``status aesvcs interface``."""
        screen = await self.query(sat_ossi.STATUS_INTERFACE)
        assert isinstance(screen, sat_records.AesvcsInterfaceStatus)
        return screen

    async def aesvcs_links(self) -> sat_records.AesvcsLinkStatus:
        """``status aesvcs link``."""
        screen = await self.query(sat_ossi.STATUS_LINK)
        assert isinstance(screen, sat_records.AesvcsLinkStatus)
        return screen

    async def logoff(self) -> None:
        """``c logoff`` + ``t`` (VT220: CANCEL, ``logoff``); answer ``Proceed With Logoff``
        with ``y`` (bounded)."""
        self._doing = "logoff"
        if self.vt220:
            self._key(CANCEL, "CANCEL")
            self._send("logoff")
        else:
            self._send("c logoff")
            self._send("t")
        self.prompt_timeout = min(self.prompt_timeout, 3.0)
        with contextlib.suppress(ConnectError):  # CM may simply hang up
            await self._expect({"proceed": re.compile(r"Proceed With Logoff")}, "logoff prompt")
            self._send("y")
            await self._until_closed()

    async def _until_closed(self) -> None:
        """Let CM end the session after logoff (bounded; whatever it still says is kept)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.prompt_timeout
        with contextlib.suppress(ConnectError, ProbeTimeout, ProtocolError):
            while True:
                await self._read_more("the end of the session", deadline, self.prompt_timeout)
        if self._shown(self._buf).strip():
            self.transcript.received(self._shown(self._buf))
        self._buf = ""


@contextlib.contextmanager
def _ssh_errors(
    where: str, username: str, known_hosts: Path, host: str, port: int
) -> Iterator[None]:
    """asyncssh/OS errors -> ConnectError, AuthError, ProbeTimeout with one-line reasons."""
    try:
        yield
    except asyncssh.HostKeyNotVerifiable as exc:
        if _known_keys(known_hosts, host, host, port):
            raise ConnectError(
                f"host key for {where} does not match known_hosts ({known_hosts}): "
                "CM was reinstalled or this is not the CM you think"
            ) from exc
        raise ConnectError(
            f"host key for {where} is not in known_hosts ({known_hosts}); add it "
            "(ssh-keyscan) or set accept_new_host_key = true"
        ) from exc
    except asyncssh.PermissionDenied as exc:
        raise LoginRefused(
            f"CM refused the login for user '{username}' at {where} (password or account wrong)"
        ) from exc
    except asyncssh.DisconnectError as exc:
        raise ConnectError(f"CM {where}: SSH disconnected: {exc.reason}") from exc
    except TimeoutError as exc:
        raise ProbeTimeout(f"CM {where}: no SSH login within the connect timeout") from exc
    except asyncssh.Error as exc:
        raise ConnectError(f"CM {where}: SSH error: {exc.reason}") from exc
    except OSError as exc:
        raise ConnectError(f"CM {where}: {describe_os_error(exc)}") from exc


async def _connect(cfg: CmConfig, password: str, transcript: Transcript, timeout: float) -> Any:
    known_hosts = cfg.known_hosts or default_known_hosts()
    where = f"{host_port(cfg.host, cfg.port)}"
    auth = _Auth(password)
    with _ssh_errors(where, cfg.username, known_hosts, cfg.host, cfg.port):
        if not known_hosts.exists() and not cfg.accept_new_host_key:
            raise ConnectError(
                f"known_hosts file {known_hosts} does not exist (set cm.known_hosts to a file "
                f"with CM's key, e.g. from ssh-keyscan -p {cfg.port} {cfg.host}, or "
                "accept_new_host_key = true)"
            )
        known_hosts.parent.mkdir(parents=True, exist_ok=True)
        known_hosts.touch(exist_ok=True)
        readable_known_hosts(known_hosts)
        try:
            async with asyncio.timeout(timeout):
                return await asyncssh.connect(
                    cfg.host,
                    cfg.port,
                    username=cfg.username,
                    known_hosts=str(known_hosts),
                    client_factory=lambda: _SatClient(
                        auth, known_hosts, cfg.accept_new_host_key, transcript.host_key_trusted
                    ),
                    client_keys=None,
                    agent_path=None,
                    config=None,
                    public_key_auth=False,
                    gss_auth=False,
                    gss_kex=False,
                    password_auth=True,
                    kbdint_auth=True,
                    preferred_auth="keyboard-interactive,password",
                )
        except ValueError as exc:
            # asyncssh reads known_hosts again while connecting, but a ValueError can also be
            # e.g. the IDNA UnicodeError of a bad cm.host: blame the file only if it is bad now
            readable_known_hosts(known_hosts)
            raise ConnectError(f"CM {where}: {exc}") from exc
        except asyncssh.PermissionDenied:
            if auth.pin_requested:
                raise AuthError(f"CM {where} asks for a PIN: this login cannot use SAT") from None
            raise


# Per event loop and CM: how many SAT logins ecc-doctor holds at once ([cm] max_sessions).
_SLOTS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, int], asyncio.Semaphore]
] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def _session_slot(cfg: CmConfig, transcript: Transcript) -> AsyncIterator[None]:
    """Wait for one of the CM's ``max_sessions`` SAT slots (the check's time limit applies)."""
    slots = _SLOTS.setdefault(asyncio.get_running_loop(), {})
    slot = slots.setdefault((cfg.host, cfg.port), asyncio.Semaphore(cfg.max_sessions))
    if slot.locked():
        transcript.note(f"waiting for a free SAT session ([cm] max_sessions = {cfg.max_sessions})")
    async with slot:
        yield


@contextlib.asynccontextmanager
async def open_sat(
    cfg: CmConfig, transcript: Transcript, *, connect_timeout: float, check_id: str = ""
) -> AsyncIterator[SatSession]:
    """A logged-in OSSI session; logs off and closes on every way out.

    At most ``[cm] max_sessions`` of them are open at once per CM: the others wait. A login
    CM refused moments ago is not tried again (AuthError "not tried: ..."; *check_id* names
    the check whose login was refused).
    """
    password = cfg.password.reveal()
    key = LoginKey.of(cfg.host, cfg.port, cfg.username, password)
    LOGINS.not_refused(key)  # before queueing for a session slot
    LOGINS.not_hung(key)
    async with (
        _session_slot(cfg, transcript),
        _open_sat(cfg, transcript, connect_timeout, password, key, check_id) as sat,
    ):
        yield sat


@contextlib.asynccontextmanager
async def _open_sat(
    cfg: CmConfig,
    transcript: Transcript,
    connect_timeout: float,
    password: str,
    key: LoginKey,
    check_id: str,
) -> AsyncIterator[SatSession]:
    where = f"{host_port(cfg.host, cfg.port)}"
    async with contextlib.AsyncExitStack() as gate:
        await gate.enter_async_context(LOGINS.first_login(key))
        transcript.note(f"ssh {cfg.username}@{where} (SAT, termtype {cfg.termtype})")
        try:
            conn = await _connect(cfg, password, transcript, connect_timeout)
        except LoginRefused:
            LOGINS.refused(key, check_id)
            raise
        session: SatSession | None = None
        logoff = True
        try:
            with _ssh_errors(
                where, cfg.username, cfg.known_hosts or default_known_hosts(), cfg.host, cfg.port
            ):
                process = await conn.create_process(
                    term_type="vt220" if vt220_mode(cfg.termtype) else "vt100",
                    term_size=(80, 24),
                    encoding="utf-8",
                    errors="replace",
                )
            session = SatSession(
                process,
                transcript,
                where,
                cfg.prompt_timeout,
                cfg.command_timeout,
                sat_ossi.field_map(cfg.ossi_fields),
                vt220=vt220_mode(cfg.termtype),
            )
            try:
                await session.login(cfg.username, password, cfg.termtype)
            except BaseException as exc:
                session = None  # not logged in: 'c logoff' would answer a login prompt
                if isinstance(exc, LoginRefused):
                    LOGINS.refused(key, check_id)
                elif isinstance(exc, ProbeTimeout):  # a SAT that shows no prompt
                    LOGINS.hung(key, check_id, "SAT prompt", f"{seconds(cfg.prompt_timeout)} s")
                raise
            LOGINS.accepted(key)
            await gate.aclose()  # logged in: the other checks may log in alongside
            yield session
        except asyncio.CancelledError:
            logoff = False
            raise
        except (ConnectError, ProbeTimeout):
            logoff = False  # the session is gone or stuck: just close it
            raise
        finally:
            try:
                if session is not None and logoff:
                    with contextlib.suppress(ProtocolError, ProbeTimeout, ConnectError):
                        await session.logoff()
            finally:
                conn.close()
                with contextlib.suppress(TimeoutError, asyncssh.Error, OSError):
                    await asyncio.wait_for(conn.wait_closed(), 2.0)
                transcript.note("SAT connection closed")
