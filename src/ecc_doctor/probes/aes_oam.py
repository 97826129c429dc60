"""AES management console (OAM) over HTTPS: form login, then the DMCC Service Summary table.

The console is a JSF application under ``/aesvcs/`` (PROTOCOLS.md 3, [CODE-1]); its page URLs
and login field names are NOT FOUND in public sources, so every path and field name is a
setting. The login form is found by its password input; every hidden input (notably
``javax.faces.ViewState``) and the submit button go back with the credentials, and the session
cookie (``JSESSIONID``) is kept by the client. The session table is found by its header cells
(Session ID, User, Application, Far-end Identifier, Connection Type, # of Associated Devices).

>>> async def demo(cfg, transcript):                      # doctest: +SKIP
...     table = await fetch_dmcc_summary(cfg, transcript, timeout=10)
...     print(table.records())
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx

from ecc_doctor.config.aes import AesConfig
from ecc_doctor.errors import AuthError, ConnectError, ProbeTimeout, ProtocolError
from ecc_doctor.probes.tcp import describe_cert_error, describe_os_error
from ecc_doctor.probes.timefmt import seconds
from ecc_doctor.secrets import MASK
from ecc_doctor.transcript import Transcript

COLUMNS = (
    "Session ID",
    "User",
    "Application",
    "Far-end Identifier",
    "Connection Type",
    "# of Associated Devices",
)
MAX_PAGE = 4 * 1024 * 1024


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


@dataclass(frozen=True)
class SessionTable:
    """The DMCC Service Summary's session table; rows follow :data:`COLUMNS`."""

    path: str
    rows: tuple[tuple[str, ...], ...]

    def records(self) -> list[dict[str, str]]:
        return [dict(zip(COLUMNS, row, strict=True)) for row in self.rows]


# -- HTML parsing (stdlib html.parser: no new dependency) ------------------------------------


@dataclass
class Form:
    """One HTML form: where it posts and its inputs as (name, type, value)."""

    action: str
    method: str
    inputs: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def password_fields(self) -> list[str]:
        return [n for n, t, _ in self.inputs if t == "password"]


class PageParser(HTMLParser):
    """Collects forms and tables (rows of cell texts; nested tables kept apart)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.tables: list[list[list[str]]] = []
        self._stack: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self._cells: list[list[str] | None] = []
        self._title: list[str] | None = None
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "title" and not self.title:
            self._title = []
        elif tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        elif tag in ("input", "button") and self.forms and a.get("name"):
            kind = a.get("type", "text" if tag == "input" else "submit").lower()
            self.forms[-1].inputs.append((a["name"], kind, a.get("value", "")))
        elif tag == "table":
            self._stack.append([])
            self._cells.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._stack:
            self._stack[-1].append([])
        elif tag in ("td", "th") and self._stack:
            if not self._stack[-1]:
                self._stack[-1].append([])
            self._cell = []
            self._stack[-1][-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._title is not None:
            self.title = " ".join("".join(self._title).split())[:120]
            self._title = None
        elif tag in ("td", "th") and self._cell is not None and self._stack:
            self._stack[-1][-1][-1] = " ".join("".join(self._cell).split())
            self._cell = None
        elif tag == "table" and self._stack:
            self.tables.append(self._stack.pop())
            self._cell = self._cells.pop() if self._cells else None

    def handle_data(self, data: str) -> None:
        if self._title is not None:
            self._title.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse_page(text: str) -> PageParser:
    parser = PageParser()
    parser.feed(text)
    parser.close()
    return parser


def describe(page: PageParser) -> str:
    """What a page holds, for the transcript: its title and how many forms and tables."""
    title = f"'{page.title}'" if page.title else "no title"
    return f"page {title}, {len(page.forms)} forms, {len(page.tables)} tables"


def find_session_table(parser: PageParser, path: str) -> SessionTable | None:
    """The table whose header row names Session ID and User; None if there is none."""
    for table in parser.tables:
        for i, row in enumerate(table):
            header = [_norm(c) for c in row]
            if "session id" not in header or "user" not in header:
                continue
            index = [header.index(_norm(c)) if _norm(c) in header else -1 for c in COLUMNS]
            rows = []
            for data in table[i + 1 :]:
                if len(data) < len(header) or not any(data):
                    continue  # "no sessions" banners, spacer rows
                rows.append(tuple(data[j] if j >= 0 else "" for j in index))
            return SessionTable(path, tuple(rows))
    return None


# -- the HTTPS client --------------------------------------------------------------------------


def _cert_problem(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _os_problem(exc: BaseException) -> OSError | None:
    """The most telling socket error behind *exc* (one with an errno, also inside groups)."""
    found: OSError | None = None
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo and len(seen) < 50:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError):
            if current.errno is not None:
                return current
            found = found or current
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return found


class _LeftOrigin(Exception):
    """A request (a redirect) would leave the console's configured https origin."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class OamClient:
    """A logged-in console session: ``async with`` closes it (logging out if configured)."""

    def __init__(self, cfg: AesConfig, transcript: Transcript, *, timeout: float = 10.0) -> None:
        if not cfg.oam_url:
            raise ProtocolError("no oam_url configured for the AES management console")
        self.cfg = cfg
        self.transcript = transcript
        self.timeout = timeout
        self.logged_in = False
        cafile = str(cfg.ca_file) if cfg.ca_file else None
        try:
            verify = ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(f"cannot load CA file {cafile}: {exc}") from exc
        origin = httpx.URL(cfg.oam_url)

        async def same_origin(request: httpx.Request) -> None:
            # a redirect is followed only within the console's own https origin: the login
            # form's password never goes to http:// or to another host (QA 4a F7)
            url = request.url
            if (url.scheme, url.host, url.port) != (origin.scheme, origin.host, origin.port):
                raise _LeftOrigin(str(url.copy_with(query=None)))

        self._client = httpx.AsyncClient(
            base_url=cfg.oam_url.rstrip("/"),
            verify=verify,
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            max_redirects=10,
            headers={"User-Agent": "ecc-doctor"},
            event_hooks={"request": [same_origin]},
        )

    @property
    def user(self) -> str:
        return self.cfg.oam_username or self.cfg.username

    async def __aenter__(self) -> OamClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.logged_in and self.cfg.oam_logout_path:
                with contextlib.suppress(ConnectError, ProbeTimeout, ProtocolError):
                    await self._fetch("GET", self.cfg.oam_logout_path)
                    self.transcript.note("logged out")
        finally:
            await self._client.aclose()

    @contextlib.contextmanager
    def _errors(self, url: str) -> Iterator[None]:
        where = f"AES OAM {url}"
        try:
            yield
        except httpx.TimeoutException as exc:
            raise ProbeTimeout(f"{where}: no answer within {seconds(self.timeout)} s") from exc
        except httpx.TooManyRedirects as exc:
            raise ProtocolError(f"{where}: too many redirects (login loop?)") from exc
        except _LeftOrigin as exc:
            raise ProtocolError(
                f"{where}: redirected to {exc.url}, not followed: it leaves the console's "
                "https origin (the login password would go there); check aes.oam_url"
            ) from exc
        except httpx.TransportError as exc:
            cert = _cert_problem(exc)
            if cert is not None:
                ca = f"aes.ca_file ({self.cfg.ca_file or 'system CAs'})"
                raise ConnectError(
                    f"{where}: {describe_cert_error(cert, ca, 'aes.oam_url')}"
                ) from exc
            oserr = _os_problem(exc)
            reason = describe_os_error(oserr) if oserr else (str(exc) or type(exc).__name__)
            raise ConnectError(f"{where}: {reason}") from exc
        except httpx.HTTPError as exc:
            raise ProtocolError(f"{where}: {exc}") from exc

    async def _fetch(
        self, method: str, path: str, data: dict[str, str] | None = None
    ) -> tuple[httpx.Response, str]:
        url = urljoin(self.cfg.oam_url.rstrip("/") + "/", path)
        with self._errors(url):
            request = self._client.build_request(method, url, data=data)
            response = await self._client.send(request, stream=True)
            try:
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_PAGE:
                        raise ProtocolError(f"AES OAM {url}: page larger than {MAX_PAGE} bytes")
                    chunks.append(chunk)
            finally:
                await response.aclose()
        text = b"".join(chunks).decode(response.encoding or "utf-8", "replace")
        hops = " -> ".join(urlsplit(str(r.url)).path for r in response.history)
        via = f" (via {hops})" if hops else ""
        self.transcript.received(
            f"{response.request.method} {urlsplit(str(response.url)).path}{via}: HTTP {response.status_code}, "
            f"{len(text)} chars"
        )
        return response, text

    async def login(self) -> None:
        """GET the login page, fill its form (keeping ViewState and hidden fields), POST it."""
        path = self.cfg.oam_login_path
        response, text = await self._fetch("GET", path)
        if response.status_code != 200:
            raise ProtocolError(f"AES OAM login page {path} answered HTTP {response.status_code}")
        login_page = parse_page(text)
        self.transcript.note(describe(login_page))
        form = self._login_form(login_page)
        if form is None:
            raise ProtocolError(f"no login form on {path} (is oam_login_path right?)")
        data, shown = self._fill(form)
        action = urljoin(str(response.url), form.action or str(response.url))
        self.transcript.sent(f"POST {urlsplit(action).path}: {shown}")
        answer, text = await self._fetch("POST", action, data)
        if answer.status_code in (401, 403) or self._login_form(parse_page(text)) is not None:
            raise AuthError(f"AES OAM refused the login for {self.user}")
        if answer.status_code >= 400:
            raise ProtocolError(f"AES OAM login answered HTTP {answer.status_code}")
        self.logged_in = True
        self.transcript.note(f"logged in as {self.user}")

    def _login_form(self, page: PageParser) -> Form | None:
        wanted = self.cfg.oam_password_field
        for form in page.forms:
            names = [n for n, _, _ in form.inputs]
            if (wanted and wanted in names) or (not wanted and form.password_fields):
                return form
        return None

    def _fill(self, form: Form) -> tuple[dict[str, str], str]:
        pw_field = self.cfg.oam_password_field or form.password_fields[0]
        user_field = self.cfg.oam_username_field or next(
            (n for n, t, _ in form.inputs if t in ("text", "email") and n != pw_field), ""
        )
        if not user_field:
            raise ProtocolError("the OAM login form has no user field (set oam_username_field)")
        data = {n: v for n, t, v in form.inputs if t == "hidden"}
        submit = next(((n, v) for n, t, v in form.inputs if t in ("submit", "image")), None)
        if submit:
            data[submit[0]] = submit[1]
        secret = self.cfg.oam_password or self.cfg.password
        data[user_field] = self.user
        data[pw_field] = secret.reveal()
        shown = ", ".join(
            f"{k}={MASK if k == pw_field else (v if len(v) < 40 else v[:12] + '…')}"
            for k, v in data.items()
        )
        return data, shown

    async def dmcc_summary(self) -> SessionTable:
        """Fetch the DMCC Service Summary page and read its session table."""
        path = self.cfg.oam_summary_path
        response, text = await self._fetch("GET", path)
        page = parse_page(text)
        self.transcript.note(describe(page))
        if self._login_form(page) is not None:
            raise AuthError(f"AES OAM sent the login page instead of {path} (session refused)")
        if response.status_code != 200:
            raise ProtocolError(
                f"AES OAM {path} answered HTTP {response.status_code} (is the page path right?)"
            )
        table = find_session_table(page, path)
        if table is None:
            raise ProtocolError(f"no DMCC session table on {path} (is the page path right?)")
        self.transcript.note(f"{len(table.rows)} DMCC sessions listed on {path}")
        return table


async def fetch_dmcc_summary(
    cfg: AesConfig, transcript: Transcript, *, timeout: float
) -> SessionTable:
    """Log in to the console, read the DMCC Session Summary, log out and close."""
    async with OamClient(cfg, transcript, timeout=timeout) as oam:
        await oam.login()
        return await oam.dmcc_summary()
