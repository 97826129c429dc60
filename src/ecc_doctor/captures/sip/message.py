"""A bounded, forgiving SIP message parser (RFC 3261 §7, §20, §25).

:func:`parse` turns the raw bytes of one :class:`~ecc_doctor.captures.records.SipMessage`
into a :class:`SipMsg`: start line, headers (compact forms expanded, comma lists split,
parameters parsed) and body. It never raises on junk: what it cannot read goes into
``problems`` (or ``None`` is returned when not even a start line is there), and the analyzer
turns that into a ``sip.parse`` finding.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, NamedTuple, TypeVar, final

from ecc_doctor.captures.records import SipMessage

#: Hard limits: a message bigger than this is cut, more headers than this are ignored.
MAX_MESSAGE: Final = 65_536
MAX_HEADERS: Final = 256
MAX_VALUES: Final = 64

#: RFC 3261 §7.3.3 and later RFCs' compact header forms.
COMPACT: Final = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "f": "from",
    "t": "to",
    "v": "via",
    "k": "supported",
    "s": "subject",
    "c": "content-type",
    "o": "event",
    "r": "refer-to",
    "u": "allow-events",
    "x": "session-expires",
    "a": "accept-contact",
    "b": "referred-by",
    "j": "reject-contact",
    "d": "request-disposition",
    "y": "identity",
    "n": "identity-info",
}

#: Headers whose value is a comma-separated list (RFC 3261 §7.3.1).
LIST_HEADERS: Final = frozenset(
    {
        "via",
        "contact",
        "route",
        "record-route",
        "supported",
        "require",
        "proxy-require",
        "unsupported",
        "allow",
        "allow-events",
        "accept",
        "accept-encoding",
        "accept-language",
        "content-encoding",
        "path",
        "service-route",
        "p-asserted-identity",
    }
)

_REQUEST_LINE: Final = re.compile(r"^([A-Za-z!%*_+`'~.-]+) +(\S+) +SIP/(\d+\.\d+)$")
_STATUS_LINE: Final = re.compile(r"^SIP/(\d+\.\d+) +(\d{3})(?: +(.*))?$")
_TOKEN_VALUE: Final = re.compile(r"\s*([^=\s,;]+)\s*(?:=\s*(\"(?:[^\"\\]|\\.)*\"|[^,;\s]*))?")

T = TypeVar("T")

#: Memoised parses: values at most this long, this many per generation (two generations).
MEMO_TEXT: Final = 256
MEMO_SIZE: Final = 1024


class _Memo(dict[str, T]):
    """A bounded memo of a parse function by its input text.

    From, To, Contact, Via and Request-URI values (and header lines, start lines, CSeq
    values) repeat in every message of a call or transaction, so each is parsed once. It is
    a dict whose ``__missing__`` parses: a hit (``memo[text]``) is one C-level dict lookup
    with no Python call, which is what keeps the per-message cost low. Two generations: when
    the newer one (the dict itself) holds *size* values it becomes the older one and the
    oldest is dropped, so recently used values stay and memory is bounded (2 x *size* values
    of at most MEMO_TEXT characters; longer texts are parsed every time). The results are
    shared between messages and must not be changed by callers.
    """

    __slots__ = ("fn", "old", "size")

    def __init__(self, fn: Callable[[str], T], size: int = MEMO_SIZE) -> None:
        super().__init__()
        self.fn = fn
        self.old: dict[str, T] = {}
        self.size = size

    def __missing__(self, text: str) -> T:
        if len(text) > MEMO_TEXT:
            return self.fn(text)
        old = self.old
        value = old[text] if text in old else self.fn(text)
        if len(self) >= self.size:
            self.old = dict(self)
            self.clear()
        self[text] = value
        return value

    def __call__(self, text: str) -> T:
        return self[text]


def split_list(value: str, sep: str = ",") -> list[str]:
    """Split at *sep* outside quotes and angle brackets (bounded to MAX_VALUES items)."""
    if sep not in value:  # a single value (what the walk below makes of it, quotes or not)
        value = value.strip()
        return [value] if value else []
    if '"' not in value and "<" not in value:  # the common case: no quoting at all
        return [v for v in (p.strip() for p in value.split(sep, MAX_VALUES)) if v][:MAX_VALUES]
    out: list[str] = []
    buf: list[str] = []
    quoted = False
    angle = 0
    escape = False
    for ch in value:
        if escape:
            buf.append(ch)
            escape = False
            continue
        if ch == "\\" and quoted:
            buf.append(ch)
            escape = True
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            angle += 1
        elif not quoted and ch == ">" and angle:
            angle -= 1
        elif ch == sep and not quoted and not angle:
            out.append("".join(buf).strip())
            buf = []
            if len(out) >= MAX_VALUES:
                return out
            continue
        buf.append(ch)
    last = "".join(buf).strip()
    if last or out:
        out.append(last)
    return [v for v in out if v]


def unquote(value: str) -> str:
    """Strip one pair of double quotes and undo backslash escapes."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_params(text: str) -> tuple[dict[str, str], list[str]]:
    """``;a=b;c`` -> ({"a": "b", "c": ""}, names seen twice). Names are lower-cased."""
    params: dict[str, str] = {}
    dupes: list[str] = []
    if ";" not in text and '"' not in text and "<" not in text:
        # the most common case: one parameter (a Via branch, a tag) or none; what the loop
        # below makes of a single piece
        part = text.strip()
        if part:
            name, _, val = part.partition("=")
            key = name.strip().lower()
            if key:
                params[key] = val.strip()
        return params, dupes
    if '"' not in text and "<" not in text:
        # the common case, split_list's fast path inlined: no quoting, so nothing to unquote
        kept = 0
        for piece in text.split(";", MAX_VALUES):
            part = piece.strip()
            if not part:
                continue
            kept += 1
            if kept > MAX_VALUES:
                break
            name, _, val = part.partition("=")
            key = name.strip().lower()
            if not key:
                continue
            if key in params:
                dupes.append(key)
                continue
            params[key] = val.strip()
        return params, dupes
    for part in split_list(text, ";"):
        name, _, val = part.partition("=")
        key = name.strip().lower()
        if not key:
            continue
        if key in params:
            dupes.append(key)
            continue
        params[key] = unquote(val)
    return params, dupes


#: Builds a named tuple from all its field values at C level (``Via(...)`` runs the Python
#: ``__new__`` that namedtuple generates): for the types the memos make for nearly every
#: message, with every field given in order.
_new: Final = tuple.__new__

#: The parameters of a URI or name-addr that has none: shared, never changed (nor is any
#: parsed value: they are shared through the memos).
_NO_PARAMS: Final[dict[str, str]] = {}


# Uri, NameAddr and Via are named tuples rather than frozen dataclasses: the memos make them
# for every new From/To tag and Via branch, nearly every message, and a frozen dataclass's
# __init__ sets each field through object.__setattr__ (about three times the cost).
class Uri(NamedTuple):
    """A SIP URI, loosely parsed: ``scheme:user@host:port;params``."""

    raw: str
    scheme: str = ""
    user: str = ""
    host: str = ""
    port: int | None = None
    params: dict[str, str] = _NO_PARAMS
    problem: str = ""

    @property
    def aor(self) -> str:
        """``sip:user@host`` without port and parameters (the address-of-record form)."""
        scheme = self.scheme or "sip"
        if self.user:
            return f"{scheme}:{self.user}@{self.host}".lower()
        return f"{scheme}:{self.host}".lower()


def parse_uri(raw: str) -> Uri:
    """Parse a SIP/SIPS/TEL URI; malformed parts go into ``problem``, never an exception."""
    text = raw.strip()
    scheme, sep, rest = text.partition(":")
    if not sep or not scheme.isalpha():
        return Uri(raw=text, problem=f"not a URI: {text[:60]!r}")
    scheme = scheme.lower()
    rest, _, headers_part = rest.partition("?")
    hostport, _, param_text = rest.partition(";")
    params, _ = parse_params(param_text)
    user = ""
    if "@" in hostport:
        user, _, hostport = hostport.rpartition("@")
        user = user.partition(":")[0]  # drop a password part
    host, port, problem = _split_hostport(hostport)
    return _new(Uri, (text, scheme, user, host, port, params, problem))


def _split_hostport(hostport: str) -> tuple[str, int | None, str]:
    """Host and port; an IPv6 reference must be bracketed (RFC 3261 §25.1)."""
    hostport = hostport.strip()
    if hostport.startswith("["):
        host, _, after = hostport[1:].partition("]")
        port = _port(after[1:]) if after.startswith(":") else None
        return host.lower(), port, ""
    if hostport.count(":") > 1:
        # An unbracketed IPv6 address: the last group may be a port or part of the address.
        head, _, tail = hostport.rpartition(":")
        problem = f"IPv6 address without brackets in {hostport!r} (RFC 3261 §25.1): host and port are ambiguous"
        if head.count(":") >= 7 or (tail.isdigit() and len(tail) >= 4 and "::" not in hostport):
            return head.lower(), _port(tail), problem
        return hostport.lower(), None, problem
    host, sep, port_text = hostport.partition(":")
    return host.lower(), _port(port_text) if sep else None, ""


def _port(text: str) -> int | None:
    text = text.strip()
    if text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    return None


class NameAddr(NamedTuple):
    """``"Display" <uri>;params`` or ``uri;params`` (From, To, Contact, Route...)."""

    raw: str
    display: str
    uri: Uri
    params: dict[str, str]
    dup_params: tuple[str, ...] = ()
    star: bool = False
    #: ``bool(dup_params or uri.problem)``: what the parse checks for every From, To and
    #: Contact, in one field read (a named tuple's field is read through a descriptor)
    flawed: bool = False

    @property
    def tag(self) -> str:
        return self.params.get("tag", "")


def parse_name_addr(value: str) -> NameAddr:
    """Parse a name-addr or addr-spec; the URI comes from the memo (the same URI appears
    with a new tag in every call)."""
    text = value.strip()
    if text == "*":
        return NameAddr(raw=text, display="", uri=Uri(raw="*"), params={}, star=True)
    if "<" in text:
        display, _, rest = text.partition("<")
        uri_text, _, after = rest.partition(">")
        params, dupes = parse_params(after.lstrip().removeprefix(";"))
        display = display.strip()
        if display[:1] == '"':
            display = unquote(display)
        uri = _uri[uri_text]
        flawed = bool(dupes or uri.problem)
        return _new(NameAddr, (text, display, uri, params, tuple(dupes), False, flawed))
    # addr-spec: header parameters follow the URI (RFC 3261 §20.10)
    uri_text, _, after = text.partition(";")
    params, dupes = parse_params(after)
    uri = _uri[uri_text]
    return _new(NameAddr, (text, "", uri, params, tuple(dupes), False, bool(dupes or uri.problem)))


class Via(NamedTuple):
    transport: str
    sent_by: str
    params: dict[str, str]

    @property
    def branch(self) -> str:
        return self.params.get("branch", "")


def parse_via(value: str) -> Via:
    proto, _, rest = value.strip().partition(" ")
    sent_by, _, param_text = rest.strip().partition(";")
    if (
        "=" in param_text
        and ";" not in param_text
        and '"' not in param_text
        and "<" not in param_text
    ):
        # the most common case, one parameter with a value (the branch): parse_params's
        # first path inlined (a Via is parsed for nearly every new transaction)
        name, _, val = param_text.strip().partition("=")
        key = name.strip().lower()
        params = {key: val.strip()} if key else {}
    else:
        params = parse_params(param_text)[0]
    return _new(Via, (proto.rpartition("/")[2].upper(), sent_by.strip(), params))


_uri: Final[_Memo[Uri]] = _Memo(parse_uri)
_name_addr: Final[_Memo[NameAddr]] = _Memo(parse_name_addr)
#: What the parse makes of a missing From or To (its URI's problem says so)
_NO_ADDR: Final = parse_name_addr("")


@dataclass(frozen=True, slots=True)
class Challenge:
    """A WWW-/Proxy-Authenticate or (Proxy-)Authorization value: scheme and parameters."""

    scheme: str
    params: dict[str, str]

    def get(self, name: str, default: str = "") -> str:
        return self.params.get(name, default)


def parse_auth(value: str) -> Challenge:
    """``Digest realm="x", nonce="y", algorithm=MD5`` -> Challenge (keys lower-cased)."""
    text = value.strip()
    scheme, _, rest = text.partition(" ")
    params: dict[str, str] = {}
    for part in split_list(rest, ","):
        name, _, val = part.partition("=")
        if name.strip():
            params[name.strip().lower()] = unquote(val)
    return Challenge(scheme=scheme.strip(), params=params)


@dataclass(slots=True, init=False)
class SipMsg:
    """One parsed SIP message; ``rec`` is the record it came from (frames, time, addresses).

    Made by :func:`parse` only, with every field given. A slots class: the rules read its
    fields dozens of times per message, and a slot read is a fixed offset where an instance
    dictionary (or a cached property shadowing a class attribute) is a lookup each time.
    Its ``__init__`` is written out (``init=False``; tests/sip/test_sip_written_init.py
    holds it to the fields): the one the dataclass decorator generates is Python code made
    at import, which the compiled build (hatch_build.py) cannot compile and calls through
    the interpreter, about six times slower than a compiled one (5,000 instructions a
    message); in pure Python the two cost about the same.
    """

    rec: SipMessage
    is_request: bool
    method: str  # request method; for a response, the method named in CSeq
    status: int  # 0 for a request
    reason: str
    ruri: str
    headers: dict[str, tuple[str, ...]]  # values shared with the memos (tuples)
    body: bytes
    problems: list[str] = field(default_factory=list)
    cseq: int = -1
    cseq_method: str = ""
    #: True when the byte-level framing rules find nothing wrong with the header block's
    #: end and Content-Length (what ``sipassembler.udp_body_check`` would say of the
    #: datagram): the block ends at the first CRLFCRLF with no bare LF before it, each
    #: header is on one line, a Content-Length line reads the same to those rules, and its
    #: value is a number no larger than the body. False means "not known", not "wrong".
    body_fits: bool = False
    #: the values every analyzer reads, parsed with the message (from the memos)
    call_id: str = ""  # the first Call-ID, stripped
    from_: NameAddr = _NO_ADDR
    to: NameAddr = _NO_ADDR
    top_via: Via | None = None
    contacts: list[NameAddr] = field(default_factory=list)

    def __init__(
        self,
        rec: SipMessage,
        is_request: bool,
        method: str,
        status: int,
        reason: str,
        ruri: str,
        headers: dict[str, tuple[str, ...]],
        body: bytes,
        problems: list[str] | None = None,
        cseq: int = -1,
        cseq_method: str = "",
        body_fits: bool = False,
        call_id: str = "",
        from_: NameAddr = _NO_ADDR,
        to: NameAddr = _NO_ADDR,
        top_via: Via | None = None,
        contacts: list[NameAddr] | None = None,
    ) -> None:
        self.rec = rec
        self.is_request = is_request
        self.method = method
        self.status = status
        self.reason = reason
        self.ruri = ruri
        self.headers = headers
        self.body = body
        self.problems = [] if problems is None else problems
        self.cseq = cseq
        self.cseq_method = cseq_method
        self.body_fits = body_fits
        self.call_id = call_id
        self.from_ = from_
        self.to = to
        self.top_via = top_via
        self.contacts = [] if contacts is None else contacts

    # -- header access ---------------------------------------------------------------
    def all(self, name: str) -> list[str]:
        """Every value of header *name* (long or compact name; lists split), a new list."""
        return [*self._values(name)]

    def _values(self, name: str) -> tuple[str, ...]:
        key = name.lower()
        return self.headers.get(COMPACT.get(key, key), ())

    def first(self, name: str, default: str = "") -> str:
        values = self._values(name)
        return values[0] if values else default

    def has(self, name: str) -> bool:
        return bool(self._values(name))

    def options(self, name: str) -> set[str]:
        """Option tags of Supported/Require (lower-cased)."""
        return {v.strip().lower() for v in self._values(name) if v.strip()}

    @property
    def branch(self) -> str:
        via = self.top_via
        return via.branch if via else ""

    @property
    def expires(self) -> int | None:
        return int_or_none(self.first("expires"))

    @property
    def frames(self) -> tuple[int, ...]:
        return self.rec.frames

    @property
    def frame(self) -> int:
        return self.rec.frame

    @property
    def ts(self) -> float:
        return self.rec.ts

    @property
    def label(self) -> str:
        """``INVITE`` or ``183 Session Progress`` (for ladders and messages)."""
        if self.is_request:
            return self.method
        return f"{self.status} {self.reason}".strip()

    @property
    def is_final(self) -> bool:
        return not self.is_request and self.status >= 200


def int_or_none(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if text.isdigit() and len(text) <= 12:
        return int(text)
    return None


@final  # told from a SipMsg by type() is (see the analyzer)
@dataclass(frozen=True, slots=True)
class ParseFailure:
    """Bytes that are not a SIP message at all (no start line)."""

    rec: SipMessage
    reason: str


def parse(rec: SipMessage) -> SipMsg | ParseFailure:
    """Parse one record; never raises."""
    try:
        return _parse(rec)
    except Exception as exc:  # defensive: junk must become a finding, never a traceback
        return ParseFailure(rec, f"unreadable SIP message ({type(exc).__name__})")


def _header_key(name: str) -> str:
    """The lower-case long name of a header line's *name* part ("" when it is not a name)."""
    stripped = name.strip()
    if not stripped or " " in stripped:
        return ""
    key = stripped.lower()
    return COMPACT.get(key, key)


_Line = tuple[str, tuple[str, ...]]

#: What ``_header_line`` gives for a line that is not a plain header line: its key "" is no
#: header name, so one ``"" in headers`` after grouping finds it.
_NOT_PLAIN: Final[_Line] = ("", ())


def _header_line(line: str) -> _Line:
    """``(header key, values)`` of a plain header line, where *values* is the value
    stripped and split at commas for a list header, else just the stripped value;
    ``_NOT_PLAIN`` for any other line (blank, folded continuation, leading white space, no
    header name): ``_walk_lines`` walks those one by one. A pair, so that ``dict()`` builds
    the headers of a message from the memo's pairs in one C-level pass (see ``_parse``)."""
    lead = line[:1]
    if not line or lead == " " or lead == "\t" or line.isspace():
        return _NOT_PLAIN
    name, colon, value = line.partition(":")
    key = _KEYS[name] if colon else ""
    if not key:
        return _NOT_PLAIN
    if key == "content-length" and not _plain_length(name, value):
        return _NOT_PLAIN  # grouped line by line, and the datagram body check reads it itself
    value = value.strip()
    if key not in LIST_HEADERS:
        return key, (value,)
    if "," not in value:  # what split_list makes of a single value, without the call
        return key, (value,) if value else ()
    return key, tuple(split_list(value))


def _plain_length(name: str, value: str) -> bool:
    """A Content-Length line (*name* ``:`` *value*) whose stripped value is what the
    byte-level rule reads (``sipframing.CONTENT_LENGTH``: the name, spaces or tabs, the
    colon, spaces or tabs, the value to the line end, stripped of ASCII white space): ASCII,
    no CR, and no white space that ``str.strip()`` drops and ``bytes.strip()`` keeps."""
    return (
        name.rstrip(" \t").lower() in ("content-length", "l")
        and value.isascii()
        and "\r" not in value
        and value.strip() == value.strip(" \t\x0b\x0c")
    )


#: (is_request, method, status, reason, Request-URI, status problem, Request-URI problem)
_Start = tuple[bool, str, int, str, str, str, str]


def _start_line(line: str) -> _Start | str:
    """The parsed start line, or why it is none (the ParseFailure reason)."""
    start = line.strip()
    m = _STATUS_LINE.match(start)
    if m:
        status = int(m.group(2))
        problem = ""
        if status < 100 or status > 699:
            problem = f"status code {status} is outside 100-699"
        return False, "", status, (m.group(3) or "").strip(), "", problem, ""
    m = _REQUEST_LINE.match(start)
    if not m:
        return f"not a SIP start line: {start[:60]!r}"
    ruri = m.group(2)
    problem = parse_uri(ruri).problem
    return True, m.group(1).upper(), 0, "", ruri, "", f"Request-URI: {problem}" if problem else ""


def _cseq(text: str) -> tuple[int, str] | tuple[()]:
    """``(number, upper-case method)`` of a CSeq value, ``()`` when it is malformed."""
    num, _, cmethod = text.strip().partition(" ")
    n = int_or_none(num)
    if n is None or n >= 2**31 or not cmethod.strip():
        return ()
    return n, cmethod.strip().upper()


def _via_problem(value: str) -> tuple[Via, str]:
    """The top Via and its sent-by problem ("" when none)."""
    via = parse_via(value)
    if via.sent_by.count(":") > 1 and not via.sent_by.startswith("["):
        return via, f"Via sent-by {via.sent_by!r}: IPv6 address without brackets (RFC 3261 §25.1)"
    return via, ""


#: Header lines seen recently: CSeq, Call-ID, From, To, Contact... lines repeat across the
#: messages of a call (4 x MEMO_SIZE lines at most, as before the two generations).
_LINES: Final[_Memo[_Line]] = _Memo(_header_line, 2 * MEMO_SIZE)
_STARTS: Final[_Memo[_Start | str]] = _Memo(_start_line)
_KEYS: Final[_Memo[str]] = _Memo(_header_key)
_CSEQS: Final[_Memo[tuple[int, str] | tuple[()]]] = _Memo(_cseq)
_VIAS: Final[_Memo[tuple[Via, str]]] = _Memo(_via_problem)
_INTS: Final[_Memo[int | None]] = _Memo(int_or_none)

_MANDATORY: Final = ("call-id", "from", "to", "via")


def _parse(rec: SipMessage) -> SipMsg | ParseFailure:
    """Parse one record (the work of :func:`parse`).

    One function on purpose: this runs for every SIP message of a capture, and at a few
    microseconds a message the calls between helpers would cost as much as the work. Every
    repeated piece (start line, header line, From, To, Via, CSeq value...) comes from a
    memo, so a repeated one costs a dict lookup, and a problem text is only built when
    there is a problem.
    """
    data = rec.data
    problems: list[str] = []
    if len(data) > MAX_MESSAGE:
        data = data[:MAX_MESSAGE]
        problems.append(f"message longer than {MAX_MESSAGE} bytes, the rest was ignored")
    head, sep, body = data.partition(b"\r\n\r\n")
    # the header block is plain so far (see SipMsg.body_fits)
    plain = bool(sep) and not problems
    if not sep:
        head, sep, body = data.partition(b"\n\n")
        if sep:
            problems.append("lines end in LF only, not CRLF (RFC 3261 §7)")
    text = head.decode("utf-8", "replace")  # positional: a direct call when compiled
    lines = text.split("\r\n")
    count = len(lines)
    if text.count("\n") >= count:  # a bare LF as well: every line end counts
        lines = text.replace("\r\n", "\n").split("\n")
        count = len(lines)
        plain = False
    first = 0
    while first < count and (not lines[first] or lines[first].isspace()):
        first += 1  # leading CRLFs are allowed before a message (RFC 3261 §7.5)
    if first == count:
        return ParseFailure(rec, "empty SIP payload")
    if first:
        plain = False
    start = _STARTS[lines[first]]
    if not isinstance(start, tuple):  # (a passing isinstance() is the cheap one)
        return ParseFailure(rec, start)
    is_request, method, status, reason, ruri, start_problem, ruri_problem = start
    if start_problem:
        problems.append(start_problem)
    del lines[: first + 1]  # the header lines, without copying them to a new list
    header_lines = lines
    # The common case: every line is a plain "Name: value" line, already in the memo with
    # its values split, and each header on one line: then the headers are the memo's
    # (key, values) pairs, a later pair replacing an earlier one as dict() would (no
    # folding, no junk, no limit to count against; the value tuples are shared with the
    # memo and never changed). A header on two lines shows as fewer keys than lines; that
    # and anything else is grouped again. (A loop rather than dict(map(...)): the same in
    # Python, and in the compiled build two direct dict calls a line instead of a generic
    # iterator and a method-wrapper call, about a fifth of the parse.)
    headers: dict[str, tuple[str, ...]] = {}
    for line in header_lines:
        hit = _LINES[line]
        headers[hit[0]] = hit[1]
    count -= first + 1  # header lines
    if len(headers) < count or "" in headers or count > MAX_HEADERS:
        headers = _group_lines(header_lines, problems)
        plain = False
    # Fill CSeq and note the malformations analyzers and engineers care about.
    values = headers.get("cseq")
    cseq_text = values[0] if values else ""
    parsed = _CSEQS[cseq_text]
    cseq, cseq_method = -1, ""
    if not parsed:
        problems.append(f"CSeq missing or malformed: {cseq_text[:40]!r} (RFC 3261 §8.1.1.5)")
    else:
        cseq, cseq_method = parsed
        if is_request and cseq_method != method:
            problems.append(f"CSeq method {cseq_method} differs from the request method {method}")
    if not is_request:
        method = cseq_method
    # headers.get() spelled out each time: the compiled build calls the dict directly, where
    # a bound method kept in a local is a generic call (in Python the two cost the same)
    call_ids = headers.get("call-id")
    froms = headers.get("from")
    tos = headers.get("to")
    vias = headers.get("via")
    if not (call_ids and froms and tos and vias):
        for name in _MANDATORY:
            if not headers.get(name):
                problems.append(f"mandatory header {name.title()} is missing (RFC 3261 §8.1.1)")
    # the values every analyzer reads, parsed here rather than lazily (see SipMsg)
    from_ = _name_addr[froms[0] if froms else ""]
    to = _name_addr[tos[0] if tos else ""]
    if from_.flawed or to.flawed:
        for name, values, addr in (("From", froms, from_), ("To", tos, to)):
            if values and "tag" in addr.dup_params:
                problems.append(f"{name} carries more than one tag parameter: {addr.raw[:120]!r}")
            if values and addr.uri.problem:
                problems.append(f"{name}: {addr.uri.problem}")
    if ruri_problem:
        problems.append(ruri_problem)
    top_via = None
    if vias and vias[0]:
        top_via, via_problem = _VIAS[vias[0]]
        if via_problem:
            problems.append(via_problem)
    contacts = [_name_addr[value] for value in headers.get("contact", ())]
    for contact in contacts:
        if contact.flawed and contact.uri.problem:
            problems.append(f"Contact: {contact.uri.problem}")
            break
    values = headers.get("content-length")
    length = values[0] if values else ""
    if length:
        declared = _INTS[length]
        if declared is None:
            problems.append(f"Content-Length is not a number: {length[:20]!r}")
            plain = False
        elif rec.transport == "UDP" and declared < len(body):
            body = body[:declared]
        elif declared > len(body):
            problems.append(
                f"Content-Length {declared} but only {len(body)} body bytes (RFC 3261 §18.3)"
            )
            plain = False
    elif values:
        plain = False  # an empty value
    return SipMsg(
        rec,
        is_request,
        method,
        status,
        reason,
        ruri,
        headers,
        body,
        problems,
        cseq,
        cseq_method,
        plain,
        call_ids[0].strip() if call_ids else "",
        from_,
        to,
        top_via,
        contacts,
    )


def _group_lines(lines: list[str], problems: list[str]) -> dict[str, tuple[str, ...]]:
    """The headers of lines that are not all plain and single (see ``_parse``)."""
    plain = [_LINES[line] for line in lines]
    if len(lines) <= MAX_HEADERS and _NOT_PLAIN not in plain:
        return _merge_lines(plain)
    return _walk_lines(lines, plain, problems)


def _merge_lines(plain: list[_Line]) -> dict[str, tuple[str, ...]]:
    """The headers of plain lines when some header is on more than one line."""
    headers: dict[str, list[str]] = {}
    for key, values in plain:
        current = headers.get(key)
        if current is None:
            headers[key] = [*values]
        else:
            current.extend(values)
    for key in LIST_HEADERS.intersection(headers):
        del headers[key][MAX_VALUES:]
    return {key: tuple(values) for key, values in headers.items()}


def _walk_lines(
    lines: list[str], plain: list[_Line], problems: list[str]
) -> dict[str, tuple[str, ...]]:
    """Group header lines one by one: folded continuations, blank and nameless lines, and
    the MAX_HEADERS limit. *plain* is ``_header_line`` of each line."""
    headers: dict[str, list[str]] = {}
    current: list[str] | None = None
    count = 0
    for line, hit in zip(lines, plain, strict=True):
        key = hit[0]  # "" for _NOT_PLAIN alone (told by value: see _header_line)
        if key:
            value = line.partition(":")[2].strip()  # what _header_line split
        else:
            lead = line[:1]
            if current and (lead == " " or lead == "\t"):  # folded continuation (RFC 3261 §7.3.1)
                current[-1] = current[-1] + " " + line.strip()
                continue
            if not line or line.isspace():
                continue
            name, colon, value = line.partition(":")
            key = _KEYS[name] if colon else ""
            if not key:
                problems.append(f"header line without a name: {line[:40]!r}")
                current = None
                continue
            value = value.strip()
        count += 1
        if count > MAX_HEADERS:
            problems.append(f"more than {MAX_HEADERS} header lines, the rest was ignored")
            break
        current = headers.get(key)
        if current is None:
            current = headers[key] = []
        current.append(value)
    # split comma lists after folding is complete
    for key in LIST_HEADERS.intersection(headers):
        values = headers[key]
        if len(values) == 1 and "," not in values[0]:
            value = values[0].strip()  # a folded line may have left a leading space
            if not value:
                headers[key] = []  # what split_list makes of an empty value
            elif value is not values[0]:
                values[0] = value
            continue
        split: list[str] = []
        for value in values:
            split.extend(split_list(value))
        headers[key] = split[:MAX_VALUES]
    return {key: tuple(values) for key, values in headers.items()}
