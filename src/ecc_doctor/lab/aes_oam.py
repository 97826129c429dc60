"""The lab AES management console: a tiny JSF-like HTTPS site (login form, ViewState, cookie).

Served by :class:`OamSite` over ``asyncio.start_server`` with TLS (one request per connection,
``Connection: close``), so it installs no signal handlers and stops with the event loop's other
servers. The real console's URLs and form field names are NOT FOUND in public sources
(PROTOCOLS.md 3); the lab uses the assumed ones below and the probe's defaults match them,
while every one of them is configurable on the probe side.
"""

from __future__ import annotations

import asyncio
import html
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

LOGIN_PATH = "/aesvcs/login.xhtml"
WELCOME_PATH = "/aesvcs/view/welcome/welcome.xhtml"
SUMMARY_PATH = "/aesvcs/view/status/dmccServiceSummary.xhtml"
LOGOUT_PATH = "/aesvcs/logout.xhtml"
COLUMNS = (
    "Session ID",
    "User",
    "Application",
    "Far-end Identifier",
    "Connection Type",
    "# of Associated Devices",
)
_MAX_HEAD = 16 * 1024
_MAX_BODY = 64 * 1024

Row = tuple[str, str, str, str, str, str]


@dataclass
class _WebSession:
    view_state: str = ""
    user: str = ""


@dataclass
class OamSite:
    """Pages of the console; *rows* gives the DMCC sessions to list when asked."""

    username: str
    password: str
    rows: Callable[[], Sequence[Row]]
    sessions: dict[str, _WebSession] = field(default_factory=dict)
    logins: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one HTTP/1.1 request, then close."""
        try:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
                method, target, headers = _parse_head(head)
                length = int(headers.get("content-length", "0") or 0)
                if not 0 <= length <= _MAX_BODY:
                    raise ValueError("body too large")
                body = await reader.readexactly(length) if length else b""
        except (ValueError, TimeoutError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            writer.write(_response(400, "<html><body>Bad Request</body></html>"))
            await writer.drain()
            return
        try:
            status, page, extra = self.route(method, target, headers.get("cookie", ""), body)
        except ValueError:  # an unparsable URL or form: what a servlet container calls 400
            status, page, extra = 400, "<html><body>Bad Request</body></html>", []
        writer.write(_response(status, page, extra))
        await writer.drain()

    def route(
        self, method: str, target: str, cookie: str, body: bytes
    ) -> tuple[int, str, list[tuple[str, str]]]:
        path = urlsplit(target).path.split(";", 1)[0]
        sid = _cookie(cookie, "JSESSIONID")
        web = self.sessions.get(sid)
        extra: list[tuple[str, str]] = []
        if web is None:
            sid = secrets.token_hex(16).upper()
            web = self.sessions[sid] = _WebSession()
            extra.append(("Set-Cookie", f"JSESSIONID={sid}; Path=/aesvcs; Secure; HttpOnly"))
            if len(self.sessions) > 256:  # bounded: forget the oldest
                self.sessions.pop(next(iter(self.sessions)))
        if path in ("/", "/aesvcs", "/aesvcs/"):
            return _redirect(WELCOME_PATH if web.user else LOGIN_PATH, extra)
        if path == LOGIN_PATH:
            if method == "POST":
                return self._login(web, body, extra)
            return 200, self._login_page(web, ""), extra
        if path == LOGOUT_PATH:
            web.user = ""
            return _redirect(LOGIN_PATH, extra)
        if path in (WELCOME_PATH, SUMMARY_PATH):
            if not web.user:
                return _redirect(LOGIN_PATH, extra)
            page = _summary_page(self.rows()) if path == SUMMARY_PATH else _welcome_page(web.user)
            return 200, page, extra
        return 404, "<html><body><h1>HTTP Status 404 - Not Found</h1></body></html>", extra

    def _login(
        self, web: _WebSession, body: bytes, extra: list[tuple[str, str]]
    ) -> tuple[int, str, list[tuple[str, str]]]:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if not web.view_state or form.get("javax.faces.ViewState") != web.view_state:
            return 200, self._login_page(web, "View expired: please log in again."), extra
        user = form.get("loginForm:username", "")
        if user != self.username or form.get("loginForm:password", "") != self.password:
            return 200, self._login_page(web, "Login failed. Please try again."), extra
        web.user = user
        self.logins += 1
        return _redirect(WELCOME_PATH, extra)

    def _login_page(self, web: _WebSession, message: str) -> str:
        web.view_state = secrets.token_urlsafe(18)
        error = f'<span class="error">{html.escape(message)}</span>' if message else ""
        return (
            "<html><head><title>Application Enablement Services Management Console</title>"
            "</head><body><h2>Please login here:</h2>"
            f'<form id="loginForm" name="loginForm" method="post" action="{LOGIN_PATH}">'
            '<input type="hidden" name="loginForm" value="loginForm"/>'
            '<label>Username</label><input type="text" name="loginForm:username" value=""/>'
            '<label>Password</label><input type="password" name="loginForm:password"/>'
            '<input type="submit" name="loginForm:loginButton" value="Login"/>'
            '<input type="hidden" name="javax.faces.ViewState" id="javax.faces.ViewState" '
            f'value="{web.view_state}"/>{error}</form></body></html>'
        )


def _welcome_page(user: str) -> str:
    return (
        "<html><head><title>Welcome to OAM</title></head><body>"
        f"<h2>Welcome to OAM</h2><p>You are logged in as {html.escape(user)}.</p>"
        "<table><tr><td>Status</td><td>Networking</td><td>Security</td></tr></table>"
        "</body></html>"
    )


def _summary_page(rows: Sequence[Row]) -> str:
    header = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join(
        '<tr class="rich-table-row"><td><input type="checkbox"/></td>'
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in row)
        + "</tr>"
        for row in rows
    )
    return (
        "<html><head><title>DMCC Service Summary</title></head><body>"
        '<table class="layout"><tr><td>Status | Status and Control | DMCC Service Summary</td>'
        "</tr><tr><td>"
        '<form id="dmccSummary" method="post" action="' + SUMMARY_PATH + '">'
        "<h3>DMCC Service Summary - Session Summary</h3>"
        f"<p>{len(rows)} sessions</p>"
        '<table id="dmccSummary:sessions" class="rich-table"><thead>'
        f'<tr class="rich-table-header"><th>&#160;</th>{header}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
        '<input type="submit" value="Terminate Sessions"/>'
        '<input type="submit" value="Show Terminated Sessions"/>'
        '<input type="submit" value="Generate Device Summary"/>'
        "</form></td></tr></table></body></html>"
    )


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ValueError("bad request line")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return parts[0], parts[1], headers


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def _redirect(
    location: str, extra: list[tuple[str, str]]
) -> tuple[int, str, list[tuple[str, str]]]:
    return 302, "", [*extra, ("Location", location)]


_REASONS = {200: "OK", 302: "Found", 400: "Bad Request", 404: "Not Found"}


def _response(status: int, page: str, extra: Sequence[tuple[str, str]] = ()) -> bytes:
    data = page.encode("utf-8")
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        "Server: lab-aes-oam",
        "Content-Type: text/html;charset=UTF-8",
        f"Content-Length: {len(data)}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in extra),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data
