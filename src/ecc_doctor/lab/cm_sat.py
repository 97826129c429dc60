"""Lab Communication Manager: SAT over SSH with OSSI and VT220 screens, as in the ECC app note.

Login is SSH password or keyboard-interactive (``Password:``), then the Terminal Type prompt.
``ossi*`` termtypes get c/f/d/n/e/t output written by the lab's own OSSI writer
(:mod:`ecc_doctor.lab.cm_ossi`, from PROTOCOLS.md 4.2, with the lab's copy of ecc-doctor's
documented, assumed field-ID table); ``ossit`` also pages its output with ``\rmore..y.``
prompts that want ``y`` (every :attr:`CmSatEmulator.ossit_page_lines` lines); other
termtypes (513, vt220, ...) get 80x24 VT220 screens laid out like the app note's sections
5.1-5.4 and 9.1, and ``status aesvcs interface`` / ``status aesvcs link`` laid out as
PROTOCOLS.md 4.3 describes them. Values are the app note's: CTI link 1, version 7, AES
``aes70``, extension 3332, UCID node 01, AESVCS on procr 8765; the link counters start at 15/15
and grow while the link is established. The AESVCS interface on procr is enabled and
``listening`` with one connection, and ``status aesvcs link`` lists link ``01/01`` to ``aes70``
(the lab AES's address, port 53576) while the lab AES runs; during ``aes-restart`` the link is
gone and procr has 0 connections.

Faults: ``cti-link-down`` (state ``down``, counters frozen), ``cti-link-stuck`` (still
``established`` but the counters stop), ``cm-auth-fail`` (every login refused), ``sat-hang``
(login accepted, no Terminal Type prompt ever), ``ossi-garbled`` (OSSI answers with broken
records).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any

import asyncssh

from ecc_doctor.lab import cm_ossi
from ecc_doctor.lab.base import LabEnv, SiteLinks
from ecc_doctor.lab.cm_ossi import (
    CTI_LINK,
    CUSTOMER_OPTIONS,
    FEATURES,
    IP_SERVICES,
    LAB_FIELDS,
    STATUS_CTI,
    STATUS_INTERFACE,
    STATUS_LINK,
)

TERMTYPE_PROMPT = "Terminal Type (513, 715, 4410, 4425, VT220, NTT, W2KTT, SUNT): [513] "
USERNAME = "ecc-doctor"
IDLE_S = 300.0
MAX_LINE = 4096
COUNTER_RATE = 2.0  # messages per second each way while established
#: the lab's [cm] cti_link_sample_s: long enough for the counters to move (1.2 messages at
#: COUNTER_RATE), so ``cti-link-stuck`` gives cm.cti-link's WARN through ``--lab`` too. It
#: costs cm.cti-link 0.6 s, not ``check --all --lab`` (slower checks run alongside).
SAMPLE_S = 0.6
MORE = "\rmore..y."  # ossit's pager prompt (PROTOCOLS.md 4.1)
# VT220 (PROTOCOLS.md 4.1, pbxd): prompt, paging prompt, banner, keys; messages on row 23
VT_PROMPT = "\x1b[2;1H\x1b[0m\x1b[KCommand: "
VT_MORE = "\x1b[24;1Hpress CANCEL to quit --  press NEXT PAGE to continue\x1b[K"
VT_DONE = "\x1b[23;1HCommand successfully completed\x1b[K"
NEXT_PAGE = "\x1b[6~"
VT_PARKED = "\x1b[3;12H\x1b[0m"  # the cursor parked in a form's first field
CANCEL = "\x1b[3~"


class _Server(asyncssh.SSHServer):
    def __init__(self, emu: CmSatEmulator) -> None:
        self._emu = emu
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._emu.connections.add(conn)
        self._emu.peak_sessions = max(self._emu.peak_sessions, len(self._emu.connections))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._emu.connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return not self._emu.inband_login  # in-band login: the SAT asks, not SSH

    def password_auth_supported(self) -> bool:
        return "password" in self._emu.auth

    def validate_password(self, username: str, password: str) -> bool:
        return self._emu.login_ok(username, password)

    def kbdint_auth_supported(self) -> bool:
        return "keyboard-interactive" in self._emu.auth

    def get_kbdint_challenge(
        self, username: str, lang: str, submethods: str
    ) -> tuple[str, str, str, list[tuple[str, bool]]]:
        return "", "", "", [("Password: ", False)]

    def validate_kbdint_response(self, username: str, responses: Any) -> bool:
        return len(responses) == 1 and self._emu.login_ok(username, str(responses[0]))


class _Lines:
    """Bounded line reader over the channel (no line editor: CM's SAT does not echo OSSI)."""

    def __init__(self, process: asyncssh.SSHServerProcess[str]) -> None:
        self._process = process
        self._buf = ""

    async def readline(self) -> str | None:
        while "\n" not in self._buf and "\r" not in self._buf:
            if len(self._buf) > MAX_LINE:
                return None
            chunk = await asyncio.wait_for(self._process.stdin.read(1024), IDLE_S)
            if not chunk:
                return None
            self._buf += chunk
        cut = min(i for i in (self._buf.find("\n"), self._buf.find("\r")) if i >= 0)
        line, self._buf = self._buf[:cut], self._buf[cut + 1 :].lstrip("\n")
        return line

    async def read_input(self) -> str | None:
        """The next VT220 key (NEXT_PAGE, CANCEL) or typed line; other keys are dropped."""
        while True:
            if self._buf.startswith("\x1b"):
                end = next(
                    (i for i, ch in enumerate(self._buf[1:], 1) if ch.isalpha() or ch == "~"), 0
                )
                if end:
                    key, self._buf = self._buf[: end + 1], self._buf[end + 1 :]
                    if key in (NEXT_PAGE, CANCEL):
                        return key
                    continue
            elif "\n" in self._buf or "\r" in self._buf:
                return await self.readline()
            if len(self._buf) > MAX_LINE:
                return None
            chunk = await asyncio.wait_for(self._process.stdin.read(1024), IDLE_S)
            if not chunk:
                return None
            self._buf += chunk


def _page(lines: list[str], number: int, total: int, command: str) -> list[str]:
    head = f"{command:<62}Page {number:>3} of {total:>3}"
    return [head, *lines]


class CmSatEmulator:
    """The lab's Communication Manager SAT (SSH, ephemeral port on 127.0.0.1)."""

    name = "cm"
    faults: tuple[str, ...] = (
        "cti-link-down",
        "cti-link-stuck",
        "cm-auth-fail",
        "sat-hang",
        "ossi-garbled",
    )

    def __init__(
        self,
        auth: tuple[str, ...] = ("keyboard-interactive", "password"),
        inband_login: bool = False,
        ossit_page_lines: int = 4,
        vt220_prompt: bool = True,
        endless_paging: bool = False,
        paging_prompt: bool = True,
    ) -> None:
        #: SSH auth methods offered (tests narrow this to one)
        self.auth = auth
        #: ask login and password again inside the session (an ``sat`` behind a shell does)
        self.inband_login = inband_login
        #: lines of OSSI output between two ``more..y.`` prompts when the termtype is ossit
        self.ossit_page_lines = max(1, ossit_page_lines)
        #: False: the VT220 SAT never draws its ``Command:`` prompt (a hostile or stuck SAT)
        self.vt220_prompt = vt220_prompt
        #: True: every VT220 screen asks for NEXT PAGE forever (a hostile or broken SAT)
        self.endless_paging = endless_paging
        #: False: a form ("Page n of m") ends each page with the cursor parked in a field and
        #: no paging prompt, the last one too, until NEXT PAGE or CANCEL (as pbxd handles it)
        self.paging_prompt = paging_prompt
        #: the CTI link this CM has administered for ECC (the app note's is 1)
        self.cti_link = 1
        #: links of other applications (number -> Service State), listed after ECC's
        self.other_links: dict[int, str] = {}
        #: the AESVCS interface on procr (``status aesvcs interface``): Enabled? and Status;
        #: the AES link is up only while it is enabled and listening and the lab AES runs
        self.aesvcs_enabled = True
        self.aesvcs_status = "listening"
        #: ``status aesvcs link``: the AES's address as CM sees it, and whether the VT220
        #: screen shows it wrapped onto the next line (PROTOCOLS.md 4.3: it can wrap)
        self.aes_link_ip = "127.0.0.1"
        self.wrap_remote_ip = False
        #: the local node the AES link uses (the app note's is procr)
        self.aes_link_node = "procr"
        #: None: procr's Number of Connections counts its links; a number: shown instead
        #: (a CM whose two screens disagree for a moment)
        self.interface_connections: int | None = None
        self._link_since = time.monotonic()
        self.active: set[str] = set()
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self.counters = {"logins": 0, "logoffs": 0, "commands": 0, "refused": 0, "pages": 0}
        self.peak_sessions = 0  # most SSH sessions open at once (ecc-doctor's max_sessions)
        self.port = 0
        self.password = ""
        #: the AES switch-connection password CM holds; OSSI shows it, we must never
        self.aes_password = secrets.token_urlsafe(12)
        self._key: asyncssh.SSHKey | None = None
        self._server: asyncssh.SSHAcceptor | None = None
        self._count_base = 15.0
        self._count_since = time.monotonic()
        self._frozen: int | None = None  # the counters' value while the link carries nothing
        self._links = SiteLinks()  # the lab's, from start(): is AES running?

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self, env: LabEnv) -> dict[str, Any]:
        # the CTI link runs between CM and AES: down while AES restarts, and ECC (which
        # reaches CM through it) cannot place calls while it is down
        self._links = env.links
        self.aes_link_ip = env.host
        env.links.cti_link_up = lambda: "cti-link-down" not in self.active
        self._key = asyncssh.generate_private_key("ssh-ed25519")
        self.password, ref = env.secret("cm-sat")
        await self._listen()
        env.add_known_host(self.port, self._key.export_public_key().decode("ascii"))
        return {
            "cm": {
                "host": env.host,
                "port": self.port,
                "username": USERNAME,
                "password": ref,
                "known_hosts": str(env.known_hosts),
                "termtype": "ossi",
                "cti_links": [1],
                "cti_link_sample_s": SAMPLE_S,
                "expected_extension": "3332",
                "aes_server_name": "aes70",
            }
        }

    async def _listen(self) -> None:
        assert self._key is not None
        self._server = await asyncssh.create_server(
            lambda: _Server(self),
            "127.0.0.1",
            self.port,
            server_host_keys=[self._key],
            process_factory=self._session,
            line_editor=False,
            reuse_address=True,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_all(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(asyncio.TimeoutError, OSError):
                await asyncio.wait_for(server.wait_closed(), 2)
        for conn in list(self.connections):
            conn.abort()
        self.connections.clear()

    async def stop(self) -> None:
        await self._close_all()

    async def set_fault(self, fault: str, active: bool) -> None:
        if fault not in self.faults:
            raise KeyError(fault)
        # freeze or restart the counters where they are
        self._count_base, self._count_since = float(self._count()), time.monotonic()
        self._frozen = None
        if active:
            self.active.add(fault)
        else:
            self.active.discard(fault)

    async def set_network(self, up: bool) -> None:
        if up and self._server is None:
            await self._listen()
        elif not up:
            await self._close_all()

    def status(self) -> dict[str, Any]:
        return {
            "open_sessions": len(self.connections),
            "peak_sessions": self.peak_sessions,
            **self.counters,
        }

    def login_ok(self, username: str, password: str) -> bool:
        ok = "cm-auth-fail" not in self.active and (username, password) == (USERNAME, self.password)
        self.counters["logins" if ok else "refused"] += 1
        return ok

    def _link_down(self) -> bool:
        """The CTI link is down: its fault, or the AES at its far end is restarting."""
        return "cti-link-down" in self.active or not self._links.aes_up()

    def _aes_links(self) -> list[dict[str, str]]:
        """``status aesvcs link`` rows: the AES switch connection, while AES runs and procr
        is enabled and listening (the CTI link rides on it; cti-link-down leaves it up)."""
        if not (self._links.aes_up() and self.aesvcs_enabled and self.aesvcs_status == "listening"):
            return []
        count = str(int(15 + (time.monotonic() - self._link_since) * COUNTER_RATE))
        return [
            {
                "Srvr/Link": "01/01", "AE Services Server": "aes70",
                "Remote IP": self.aes_link_ip, "Remote Port": "53576", "Local Node": self.aes_link_node,
                "Msgs Sent": count, "Msgs Rcvd": count,
            }
        ]  # fmt: skip

    def _connections(self) -> int:
        if self.interface_connections is not None:
            return self.interface_connections
        return sum(1 for row in self._aes_links() if row["Local Node"] == "procr")

    def _count(self) -> int:
        """The link's message counters: moving while it carries messages, frozen where
        they were when it stopped (a fault of CM's, or the AES at its far end restarting,
        which this emulator only sees when it asks)."""
        now = time.monotonic()
        moving = self._count_base + (now - self._count_since) * COUNTER_RATE
        if self._link_down() or "cti-link-stuck" in self.active:
            if self._frozen is None:
                self._frozen = int(moving)
            return self._frozen
        if self._frozen is not None:  # flowing again: from where they stopped
            self._count_base, self._count_since, self._frozen = float(self._frozen), now, None
            return int(self._count_base)
        return int(moving)

    # --- the SAT dialogue -------------------------------------------------------------------

    async def _session(self, process: asyncssh.SSHServerProcess[str]) -> None:
        try:
            if "sat-hang" in self.active:
                await asyncio.sleep(IDLE_S)
                return
            lines = _Lines(process)
            if self.inband_login and not await self._inband(process, lines):
                return
            process.stdout.write(TERMTYPE_PROMPT)
            termtype = await lines.readline()
            if termtype is None:
                return
            term = termtype.strip().lower() or "513"
            if term.startswith("ossi"):
                await self._ossi_loop(process, lines, paged=term == "ossit")
            else:
                await self._screen_loop(process, lines)
        except (TimeoutError, asyncssh.Error, OSError, BrokenPipeError):
            pass  # the client went away or idled out
        finally:
            process.exit(0)

    async def _inband(self, process: asyncssh.SSHServerProcess[str], lines: _Lines) -> bool:
        process.stdout.write("Login: ")
        user = await lines.readline()
        for _ in range(2):
            process.stdout.write("Password: ")
            given = await lines.readline()
            if given is None:
                return False
            if self.login_ok(user or "", given):
                return True
            process.stdout.write("\r\nLogin incorrect\r\n")
        return False

    async def _ossi_loop(
        self, process: asyncssh.SSHServerProcess[str], lines: _Lines, *, paged: bool
    ) -> None:
        process.stdout.write("t\n")
        command = ""
        while (line := await lines.readline()) is not None:
            if line.startswith("c"):
                command = line[1:].strip()
            elif line.strip() == "t":
                if command.lower() == "logoff":
                    process.stdout.write("Proceed With Logoff [n]? ")
                    if ((await lines.readline()) or "").strip().lower() == "y":
                        self.counters["logoffs"] += 1
                        return
                    process.stdout.write("t\n")
                elif not await self._write_ossi(process, lines, self._ossi_answer(command), paged):
                    return
                command = ""

    async def _write_ossi(
        self,
        process: asyncssh.SSHServerProcess[str],
        lines: _Lines,
        answer: list[str],
        paged: bool,
    ) -> bool:
        """Send *answer*; ossit stops every few lines at ``more..y.`` until it gets ``y``."""
        size = self.ossit_page_lines if paged else len(answer)
        for start in range(0, len(answer), size):
            if start:
                process.stdout.write(MORE)
                self.counters["pages"] += 1
                reply = await lines.readline()
                if reply is None:
                    return False
                if reply.strip().lower() != "y":
                    process.stdout.write("\nt\n")  # the rest is dropped, as on a cancel
                    return True
            process.stdout.write("\n".join(answer[start : start + size]) + "\n")
        return True

    def _ossi_answer(self, command: str) -> list[str]:
        self.counters["commands"] += 1
        parsed = cm_ossi.parse_command(command)
        if parsed is None:
            return cm_ossi.error(command, "00000000", "Command not recognized")
        canonical, link = parsed
        if canonical == CTI_LINK and link != str(self.cti_link):
            field_id = LAB_FIELDS[CTI_LINK]["CTI Link"]
            return cm_ossi.error(command, field_id, "Identifier not assigned")
        if "ossi-garbled" in self.active:
            return [cm_ossi.echo(command), "f0001ff00\t0002ff00\t0003ff00", "d1", "t"]
        return cm_ossi.answer(command, LAB_FIELDS[canonical], self._records(canonical))

    def _records(self, canonical: str) -> list[dict[str, str]]:
        count = str(self._count())
        state = "down" if self._link_down() else "established"
        if canonical == STATUS_CTI:
            return [
                {
                    "CTI Link": str(self.cti_link),
                    "Version": "7",
                    "Mnt Busy": "no",
                    "AE Services Server": "aes70",
                    "Service State": state,
                    "Msgs Sent": count,
                    "Msgs Rcvd": count,
                },  # fmt: skip
                *(
                    {
                        "CTI Link": str(number),
                        "Version": "7",
                        "Mnt Busy": "no",
                        "AE Services Server": "aes-other",
                        "Service State": other,
                        "Msgs Sent": "0",
                        "Msgs Rcvd": "0",
                    }
                    for number, other in sorted(self.other_links.items())
                ),
            ]
        if canonical == CUSTOMER_OPTIONS:
            return [
                {
                    "Computer Telephony Adjunct Links": "y",
                    "ASAI Link Core Capabilities": "n",
                    "ASAI Link Plus Capabilities": "n",
                }
            ]
        if canonical == CTI_LINK:
            return [
                {
                    "CTI Link": str(self.cti_link),
                    "Extension": "3332",
                    "Type": "ADJ-IP",
                    "Name": "AES70",
                    "COR": "1",
                }
            ]
        if canonical == FEATURES:
            return [
                {
                    "Create Universal Call ID (UCID)": "y",
                    "UCID Network Node ID": "01",
                    "Send UCID to ASAI": "y",
                }
            ]
        if canonical == STATUS_INTERFACE:
            return [
                {
                    "Local Node": "procr",
                    "Enabled": "yes" if self.aesvcs_enabled else "no",
                    "Number of Connections": str(self._connections()),
                    "Status": self.aesvcs_status,
                }
            ]
        if canonical == STATUS_LINK:
            return self._aes_links()
        assert canonical == IP_SERVICES
        return [
            {
                "Service Type": "AESVCS", "Enabled": "y", "Local Node": "procr",
                "Local Port": "8765", "Remote Node": "", "Remote Port": "",
            },
            {
                "Server ID": "1", "AE Services Server": "aes70", "Password": self.aes_password,
                "Server Enabled": "y", "Status": "in use",
            },
        ]  # fmt: skip

    async def _screen_loop(self, process: asyncssh.SSHServerProcess[str], lines: _Lines) -> None:
        prompt = VT_PROMPT if self.vt220_prompt else ""
        process.stdout.write("\x1b[H\x1b[2J" + prompt)
        while (typed := await lines.read_input()) is not None:
            command = typed.strip()
            if command.lower() == "logoff":
                process.stdout.write("\x1b[23;1HProceed With Logoff [n]? \x1b[K")
                if ((await lines.readline()) or "").strip().lower() == "y":
                    self.counters["logoffs"] += 1
                    return
            elif command in (NEXT_PAGE, CANCEL):
                pass  # at the prompt: CANCEL just shows it again
            elif command and not await self._screen_answer(process, lines, command):
                return
            process.stdout.write(prompt)

    async def _screen_answer(
        self, process: asyncssh.SSHServerProcess[str], lines: _Lines, command: str
    ) -> bool:
        """Show *command*'s pages; between two, wait for NEXT PAGE (CANCEL stops)."""
        self.counters["commands"] += 1
        parsed = cm_ossi.parse_command(command)
        if parsed is None or (parsed[0] == CTI_LINK and parsed[1] != str(self.cti_link)):
            error = "Command not recognized" if parsed is None else "Identifier not assigned"
            process.stdout.write(f"\x1b[23;1H{error}\x1b[K")
            return True
        pages = self._screen_pages(parsed[0], command)
        if "ossi-garbled" in self.active:
            pages = [page[:2] for page in pages]  # cut off: headers and rows missing
        number = 0
        while number < len(pages) or self.endless_paging:
            page = pages[min(number, len(pages) - 1)]
            if number:
                self.counters["pages"] += 1
            out = ["\x1b[H\x1b[2J"] + [
                f"\x1b[{i + 1};1H{text}\x1b[K" for i, text in enumerate(page)
            ]
            process.stdout.write("".join(out))
            number += 1
            if not self.paging_prompt and "Page " in page[0]:
                process.stdout.write(VT_PARKED)  # a form waits in a field, no prompt
                key = await lines.read_input()
                if key is None:
                    return False
                if key != NEXT_PAGE or number == len(pages):
                    return True  # CANCEL: the form is left, Command: follows
                continue
            if number == len(pages) and not self.endless_paging:
                break
            process.stdout.write(VT_MORE)
            key = await lines.read_input()
            if key is None:
                return False
            if key != NEXT_PAGE:  # CANCEL (or anything else) stops the display
                return True
        process.stdout.write(VT_DONE)
        return True

    def _screen_pages(self, canonical: str, command: str) -> list[list[str]]:
        if canonical == STATUS_CTI:
            return [
                [
                    command,
                    "",
                    "                          AE SERVICES CTI LINK STATUS",
                    "",
                    "CTI   Version  Mnt   AE Services      Service       Msgs     Msgs",
                    "Link           Busy  Server           State         Sent     Rcvd",
                    "",
                    *(
                        f"{row['CTI Link']:<5} 7        no    {row['AE Services Server']:<16} "
                        f"{row['Service State']:<13} {row['Msgs Sent']:<8} {row['Msgs Rcvd']}"
                        for row in self._records(STATUS_CTI)
                    ),
                ]
            ]
        if canonical == STATUS_INTERFACE:
            return [
                [
                    command,
                    "",
                    "                          AE SERVICES INTERFACE STATUS",
                    "",
                    "Local Node         Enabled?    Number of       Status",
                    "                               Connections",
                    "",
                    *(
                        f"{row['Local Node']:<18} {row['Enabled']:<11} "
                        f"{row['Number of Connections']:<15} {row['Status']}"
                        for row in self._records(STATUS_INTERFACE)
                    ),
                ]
            ]
        if canonical == STATUS_LINK:
            rows = []
            for row in self._records(STATUS_LINK):
                ip = row["Remote IP"]
                shown = "" if self.wrap_remote_ip else ip
                rows.append(
                    f"{row['Srvr/Link']:<6}{row['AE Services Server']:<17}{shown:<17}"
                    f"{row['Remote Port']:<8}{row['Local Node']:<12}{row['Msgs Sent']:<9}"
                    f"{row['Msgs Rcvd']}"
                )
                if self.wrap_remote_ip:
                    rows.append(f"{'':<23}{ip}")
            return [
                [
                    command,
                    "",
                    "                           AE SERVICES LINK STATUS",
                    "",
                    "Srvr/ AE Services      Remote IP        Remote  Local       Msgs     Msgs",
                    "Link  Server                            Port    Node        Sent     Rcvd",
                    "",
                    *rows,
                ]
            ]
        if canonical == CUSTOMER_OPTIONS:
            body = [
                "                                OPTIONAL FEATURES",
                "",
                "                                  ARS? y  Computer Telephony Adjunct Links? y",
                "          ASAI Link Core Capabilities? n                 DCS Call Coverage? y",
                "          ASAI Link Plus Capabilities? n                DCS with Rerouting? y",
            ]
            return [_page(body, 4, 12, command)]
        if canonical == CTI_LINK:
            body = [
                "                                    CTI LINK",
                f" CTI Link: {self.cti_link}",
                "Extension: 3332",
                "     Type: ADJ-IP",
                "                                                                     COR: 1",
                "     Name: AES70",
            ]
            return [_page(body, 1, 3, command)]
        if canonical == FEATURES:
            title = "                        FEATURE-RELATED SYSTEM PARAMETERS"
            p5 = [
                title,
                "UNIVERSAL CALL ID",
                "     Create Universal Call ID (UCID)? y    UCID Network Node ID: 01",
            ]
            p13 = [
                title,
                "  ASAI",
                "                                          Send UCID to ASAI? y",
            ]
            return [_page(p5, 5, 19, command), _page(p13, 13, 19, command)]
        p1 = [
            "                                   IP SERVICES",
            " Service     Enabled     Local        Local       Remote      Remote",
            "  Type                   Node         Port        Node        Port",
            "AESVCS        y      procr            8765",
        ]
        p4 = [
            "                            AE Services Administration",
            "   Server ID    AE Services       Password          Enabled    Status",
            "                   Server",
            "      1:      aes70             *                     y        in use",
            "      2:",
        ]
        return [_page(p1, 1, 4, command), _page(p4, 4, 4, command)]
