"""The fast SIP parser gives exactly the parse of the plain, slow one (issue #6).

``reference()`` below is the parser as it was before the speed work: eager, uncached, each
header walked character by character when it has quotes or angle brackets. Every message of
every committed and public capture, plus deterministic mutations of them (folding, quotes,
commas, compact forms, damaged lines), must parse the same with ``message.parse`` (first
parse and memoised re-parse), field by field.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import FIXTURES, PUBLIC_CAPTURES, require_shared

from ecc_doctor.captures.reader import PcapEngine
from ecc_doctor.captures.records import SipMessage
from ecc_doctor.captures.sip import message as fast
from ecc_doctor.captures.sip.message import COMPACT, LIST_HEADERS, NameAddr, Uri, Via

MAX_MESSAGE, MAX_HEADERS, MAX_VALUES = 65_536, 256, 64
_REQUEST_LINE = re.compile(r"^([A-Za-z!%*_+`'~.-]+) +(\S+) +SIP/(\d+\.\d+)$")
_STATUS_LINE = re.compile(r"^SIP/(\d+\.\d+) +(\d{3})(?: +(.*))?$")


# -- the reference parser ------------------------------------------------------------------
def ref_split(value: str, sep: str = ",") -> list[str]:
    out: list[str] = []
    buf: list[str] = []
    quoted = escape = False
    angle = 0
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


def ref_list(value: str, sep: str = ",") -> list[str]:
    if '"' not in value and "<" not in value:
        return [v for v in (p.strip() for p in value.split(sep, MAX_VALUES)) if v][:MAX_VALUES]
    return ref_split(value, sep)


def ref_unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def ref_params(text: str) -> tuple[dict[str, str], list[str]]:
    params: dict[str, str] = {}
    dupes: list[str] = []
    for part in ref_list(text, ";"):
        name, _, val = part.partition("=")
        key = name.strip().lower()
        if not key:
            continue
        if key in params:
            dupes.append(key)
            continue
        params[key] = ref_unquote(val)
    return params, dupes


def ref_port(text: str) -> int | None:
    text = text.strip()
    if text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    return None


def ref_hostport(hostport: str) -> tuple[str, int | None, str]:
    hostport = hostport.strip()
    if hostport.startswith("["):
        host, _, after = hostport[1:].partition("]")
        port = ref_port(after[1:]) if after.startswith(":") else None
        return host.lower(), port, ""
    if hostport.count(":") > 1:
        head, _, tail = hostport.rpartition(":")
        problem = f"IPv6 address without brackets in {hostport!r} (RFC 3261 §25.1): host and port are ambiguous"
        if head.count(":") >= 7 or (tail.isdigit() and len(tail) >= 4 and "::" not in hostport):
            return head.lower(), ref_port(tail), problem
        return hostport.lower(), None, problem
    host, sep, port_text = hostport.partition(":")
    return host.lower(), ref_port(port_text) if sep else None, ""


def ref_uri(raw: str) -> Uri:
    text = raw.strip()
    scheme, sep, rest = text.partition(":")
    if not sep or not scheme.isalpha():
        return Uri(raw=text, problem=f"not a URI: {text[:60]!r}")
    rest = rest.partition("?")[0]
    hostport, _, param_text = rest.partition(";")
    params, _ = ref_params(param_text)
    user = ""
    if "@" in hostport:
        user, _, hostport = hostport.rpartition("@")
        user = user.partition(":")[0]
    host, port, problem = ref_hostport(hostport)
    return Uri(text, scheme.lower(), user, host, port, params, problem)


def ref_name_addr(value: str) -> NameAddr:
    text = value.strip()
    if text == "*":
        return NameAddr(raw=text, display="", uri=Uri(raw="*"), params={}, star=True)
    if "<" in text:
        display, _, rest = text.partition("<")
        uri_text, _, after = rest.partition(">")
        params, dupes = ref_params(after.lstrip().removeprefix(";"))
        uri = ref_uri(uri_text)
        flawed = bool(dupes) or bool(uri.problem)
        return NameAddr(text, ref_unquote(display), uri, params, tuple(dupes), False, flawed)
    uri_text, _, after = text.partition(";")
    params, dupes = ref_params(after)
    uri = ref_uri(uri_text)
    return NameAddr(text, "", uri, params, tuple(dupes), False, bool(dupes) or bool(uri.problem))


def ref_via(value: str) -> Via:
    proto, _, rest = value.strip().partition(" ")
    sent_by, _, param_text = rest.strip().partition(";")
    params, _ = ref_params(param_text)
    return Via(proto.rpartition("/")[2].upper(), sent_by.strip(), params)


def ref_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) <= 12 else None


def reference(rec: SipMessage) -> dict[str, Any] | str:
    """The parse as a plain dict, or the ParseFailure reason."""
    try:
        return _reference(rec)
    except Exception as exc:
        return f"unreadable SIP message ({type(exc).__name__})"


def _reference(rec: SipMessage) -> dict[str, Any] | str:
    data = rec.data[:MAX_MESSAGE]
    problems: list[str] = []
    if len(rec.data) > MAX_MESSAGE:
        problems.append(f"message longer than {MAX_MESSAGE} bytes, the rest was ignored")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
        if sep:
            problems.append("lines end in LF only, not CRLF (RFC 3261 §7)")
    lines = head.decode("utf-8", errors="replace").replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return "empty SIP payload"
    start = lines[0].strip()
    is_request, method, reason, ruri, status = False, "", "", "", 0
    m = _STATUS_LINE.match(start)
    if m:
        status = int(m.group(2))
        reason = (m.group(3) or "").strip()
        if status < 100 or status > 699:
            problems.append(f"status code {status} is outside 100-699")
    else:
        m = _REQUEST_LINE.match(start)
        if not m:
            return f"not a SIP start line: {start[:60]!r}"
        is_request, method, ruri = True, m.group(1).upper(), m.group(2)
    headers: dict[str, list[str]] = {}
    current: list[str] = []
    count = 0
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and current:
            current[-1] = current[-1] + " " + line.strip()
            continue
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or " " in name.strip():
            problems.append(f"header line without a name: {line[:40]!r}")
            current = []
            continue
        count += 1
        if count > MAX_HEADERS:
            problems.append(f"more than {MAX_HEADERS} header lines, the rest was ignored")
            break
        key = name.strip().lower()
        current = headers.setdefault(COMPACT.get(key, key), [])
        current.append(value.strip())
    for key in list(headers):
        if key in LIST_HEADERS:
            split: list[str] = []
            for value in headers[key]:
                split.extend(ref_list(value))
            headers[key] = split[:MAX_VALUES]

    def first(name: str) -> str:
        values = headers.get(name, [])
        return values[0] if values else ""

    cseq, cseq_method = -1, ""
    cseq_text = first("cseq")
    num, _, cmethod = cseq_text.strip().partition(" ")
    n = ref_int(num)
    if n is None or n >= 2**31 or not cmethod.strip():
        problems.append(f"CSeq missing or malformed: {cseq_text[:40]!r} (RFC 3261 §8.1.1.5)")
    else:
        cseq, cseq_method = n, cmethod.strip().upper()
        if is_request and cseq_method != method:
            problems.append(f"CSeq method {cseq_method} differs from the request method {method}")
    if not is_request:
        method = cseq_method
    for name in ("call-id", "from", "to", "via"):
        if not headers.get(name):
            problems.append(f"mandatory header {name.title()} is missing (RFC 3261 §8.1.1)")
    from_, to = ref_name_addr(first("from")), ref_name_addr(first("to"))
    for name, addr in (("from", from_), ("to", to)):
        if headers.get(name):
            if "tag" in addr.dup_params:
                problems.append(
                    f"{name.title()} carries more than one tag parameter: {addr.raw[:120]!r}"
                )
            if addr.uri.problem:
                problems.append(f"{name.title()}: {addr.uri.problem}")
    if is_request and ref_uri(ruri).problem:
        problems.append(f"Request-URI: {ref_uri(ruri).problem}")
    via = ref_via(first("via")) if first("via") else None
    if via is not None and via.sent_by.count(":") > 1 and not via.sent_by.startswith("["):
        problems.append(
            f"Via sent-by {via.sent_by!r}: IPv6 address without brackets (RFC 3261 §25.1)"
        )
    contacts = [ref_name_addr(v) for v in headers.get("contact", [])]
    for contact in contacts:
        if contact.uri.problem:
            problems.append(f"Contact: {contact.uri.problem}")
            break
    length = first("content-length")
    if length:
        declared = ref_int(length)
        if declared is None:
            problems.append(f"Content-Length is not a number: {length[:20]!r}")
        elif rec.transport == "UDP" and declared < len(body):
            body = body[:declared]
        elif declared > len(body):
            problems.append(
                f"Content-Length {declared} but only {len(body)} body bytes (RFC 3261 §18.3)"
            )
    return {
        "is_request": is_request,
        "method": method,
        "status": status,
        "reason": reason,
        "ruri": ruri,
        "headers": headers,
        "body": body,
        "problems": problems,
        "cseq": cseq,
        "cseq_method": cseq_method,
        "call_id": first("call-id").strip(),
        "from": from_,
        "to": to,
        "via": via,
        "contacts": contacts,
        "expires": ref_int(first("expires")),
        "options": sorted({v.strip().lower() for v in headers.get("supported", []) if v.strip()}),
    }


def fast_view(rec: SipMessage) -> dict[str, Any] | str:
    msg = fast.parse(rec)
    if isinstance(msg, fast.ParseFailure):
        return msg.reason
    return {
        "is_request": msg.is_request,
        "method": msg.method,
        "status": msg.status,
        "reason": msg.reason,
        "ruri": msg.ruri,
        "headers": {k: msg.all(k) for k in msg.headers},
        "body": msg.body,
        "problems": msg.problems,
        "cseq": msg.cseq,
        "cseq_method": msg.cseq_method,
        "call_id": msg.call_id,
        "from": msg.from_,
        "to": msg.to,
        "via": msg.top_via,
        "contacts": msg.contacts,
        "expires": msg.expires,
        "options": sorted(msg.options("supported")),
    }


# -- inputs ---------------------------------------------------------------------------------
ODD_LINES = [
    b"v: SIP/2.0/UDP [::1]:5060;branch=z9hG4bKx, SIP/2.0/TCP fe80::1:5060",
    b"Via: SIP/2.0/UDP fe80:0:0:0:21a:a0ff:fe07:32e0:5060;branch=z9",
    b'Via: SIP/2.0/UDP h;branch="q;r"',
    b"f: <sip:a@h>;tag=1;tag=2",
    b'From: "a\\"b, c" <sip:a@h;transport=tcp>;tag=x',
    b"From: <sip:a@h;tag=u>",
    b"t: sip:b@h;tag=q",
    b"To:",
    b"m: *",
    b"m: <sip:x@[2001:db8::1]>;expires=0, sip:y@h;expires=60",
    b'Contact: <sip:a@h>;q=0.5;expires="30", "x, y" <sip:b@h>',
    b"Contact: sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060",
    b"l: 5",
    b"Content-Length: x",
    b"CSeq: 9 REGISTER",
    b"CSeq: 2147483648 INVITE",
    b"Expires: 0",
    b"Require: 100rel, timer",
    b"Supported:",
    b"k: 100rel,,timer ,",
    b"RSeq: 5",
    b"RAck: 5 1 INVITE",
    b"i: other",
    b'WWW-Authenticate: Digest realm="r, x", nonce="n", stale=TRUE',
    b'Authorization: Digest username="alice", realm="r", nonce="n", uri="sip:r", response="0"',
    b":x",
    b"X Y: z",
    b" \tfolded, more",
    b"Route: <sip:p1;lr>, <sip:p2;lr>",
    b"Allow: INVITE, ACK, BYE",
]


def mutate(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\r\n")
    for _ in range(rng.randint(1, 4)):
        kind, j = rng.randrange(12), rng.randrange(len(lines))
        if kind == 0:
            lines.insert(j, lines[rng.randrange(len(lines))])
        elif kind == 1 and len(lines) > 2:
            del lines[j]
        elif kind == 2:
            lines[j] = lines[j].replace(b":", b" :", 1)
        elif kind == 3:
            lines[j] += rng.choice(
                [b',"x,y"', b", <sip:a@b;c=d,e>", b";tag=zz", b";;", b",", b' "']
            )
        elif kind == 4:
            lines.insert(j, rng.choice([b" \tfolded, more", b"\t<sip:f@h>"]))
        elif kind == 5:
            lines[j] = lines[j].lower() if rng.random() < 0.5 else lines[j].upper()
        elif kind == 6:
            lines[j] = rng.choice(ODD_LINES)
        elif kind == 7:
            old, new = rng.choice([(b" ", b"  "), (b";", b" ; "), (b"=", b" = "), (b",", b" , ")])
            lines[j] = lines[j].replace(old, new)
        elif kind == 8:
            lines[j] = lines[j][: rng.randrange(len(lines[j]) + 1)]
        elif kind == 9:
            lines[j] = lines[j].replace(b"<", b"< ").replace(b"\t", b" ")
        elif kind == 10:
            lines[j] += rng.choice([b"\x0b", b"\xc2\xa0", b"\xff", b"\r"])
        else:
            lines.insert(0, b"")
    out = b"\r\n".join(lines)
    return out.replace(b"\r\n", b"\n") if rng.random() < 0.1 else out


def sip_records(path: Path) -> list[SipMessage]:
    ports = (5060, 5061, 5062, 5160, 6060, 15060, 25060)
    return [r for r in PcapEngine().sip(path, ports) if isinstance(r, SipMessage)]


FIXTURE_CAPTURES = sorted(
    p for p in FIXTURES.rglob("*.pcap*") if "sip" in p.parts or p.parent.name == "captures"
)
PUBLIC = sorted(p.name for p in PUBLIC_CAPTURES.glob("*.pcap*")) if PUBLIC_CAPTURES.is_dir() else []


def check_same(records: list[SipMessage], seed: str) -> int:
    rng = random.Random(seed)
    inputs = list(records)
    for _ in range(8):
        for rec in records[:150]:
            data = mutate(rec.data, rng)
            transport = rng.choice(["UDP", "TCP"])
            inputs.append(
                SipMessage(
                    rec.frames, rec.ts, rec.src, rec.sport, rec.dst, rec.dport, transport, data
                )
            )
    for rec in inputs:
        want = reference(rec)
        assert fast_view(rec) == want, rec.data[:300]
        assert fast_view(rec) == want, rec.data[:300]  # again: memoised header parses
    return len(inputs)


@pytest.mark.parametrize("path", FIXTURE_CAPTURES, ids=lambda p: p.name)
def test_committed_captures_parse_the_same(path: Path) -> None:
    records = sip_records(path)
    assert records, f"{path.name} has no SIP message"
    check_same(records, path.name)


@pytest.mark.parametrize("name", PUBLIC or ["(none)"])
def test_public_captures_parse_the_same(name: str) -> None:
    path = require_shared(PUBLIC_CAPTURES / name)
    records = sip_records(path)
    if records:
        check_same(records, name)


def test_edge_cases_parse_the_same() -> None:
    base = (
        b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
        b'From: "A" <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c\r\n'
        b"CSeq: 1 INVITE\r\nContact: <sip:a@10.0.0.1>\r\nContent-Length: 0\r\n\r\n"
    )
    cases = [
        base,
        b"\r\n\r\n" + base,
        base.replace(b"\r\n", b"\n"),
        b"",
        b"\r\n",
        b"SIP/2.0 99 x\r\n\r\n",
    ]
    cases += [base.replace(b"Contact: <sip:a@10.0.0.1>", line) for line in ODD_LINES]
    cases.append(b"OPTIONS sip:x SIP/2.0\r\n" + b"X-H: 1\r\n" * 300 + b"\r\n")
    cases.append(base + b"x" * MAX_MESSAGE)
    recs = [SipMessage((1,), 0.0, "a", 1, "b", 2, "UDP", c) for c in cases]
    assert check_same(recs, "edge") > len(cases)


# -- the fast paths of the memoised parser ---------------------------------------------------
def _rec(data: bytes, transport: str = "UDP") -> SipMessage:
    return SipMessage((1,), 0.0, "a", 1, "b", 2, transport, data)


BASE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
    b'From: "A" <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c\r\n'
    b"CSeq: 1 INVITE\r\nContact: <sip:a@10.0.0.1>\r\nContent-Length: 0\r\n\r\n"
)


def test_header_on_several_lines_is_merged_and_bounded() -> None:
    """A header on more than one plain line leaves the one-pass path: values in order, a
    list header still cut at MAX_VALUES over all its lines."""
    many = b", ".join(b"opt%d" % i for i in range(40))
    data = BASE.replace(
        b"Content-Length: 0\r\n",
        b"Supported: " + many + b"\r\nX-A: 1\r\nVia: SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK2\r\n"
        b"Supported: " + many + b"\r\nX-A: 2\r\nContent-Length: 0\r\n",
    )
    msg = fast.parse(_rec(data))
    assert isinstance(msg, fast.SipMsg)
    assert len(msg.all("supported")) == MAX_VALUES
    assert msg.all("x-a") == ["1", "2"]
    assert [v.split(";")[0] for v in msg.all("via")] == [
        "SIP/2.0/UDP 10.0.0.1",
        "SIP/2.0/TCP 10.0.0.2",
    ]
    assert fast_view(_rec(data)) == reference(_rec(data))


@pytest.mark.parametrize(
    "data",
    [
        BASE.replace(b"Call-ID: c\r\n", b"Call-ID: c\n"),  # one bare LF among CRLFs
        BASE.replace(b"\r\nTo:", b"\r\r\nTo:"),  # CR CR LF
        BASE.replace(b"\r\nTo:", b"\rTo:"),  # a lone CR stays in the line
        b"\r\n \r\n" + BASE,  # blank lines before the start line
        BASE.replace(b"Call-ID: c\r\n", b"Call-ID: c\r\n\tfolded\r\n"),
        BASE.replace(b"Call-ID: c\r\n", b"Call-ID: c\r\n\r\n"[:-2] + b" \r\n"),
        BASE.replace(b"Call-ID: c\r\n", b"Call-ID: c\r\nnot a header\r\n"),
        BASE.replace(b"To: ", b"To: " + b"x" * 300),  # longer than MEMO_TEXT
    ],
)
def test_odd_head_shapes_parse_the_same(data: bytes) -> None:
    for _ in range(2):  # first parse and memoised re-parse
        assert fast_view(_rec(data)) == reference(_rec(data))


def test_memo_generations_keep_results_and_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """With tiny memo generations every value is dropped and parsed again many times: the
    parse stays the same and no memo grows past its two generations."""
    memos = [m for m in vars(fast).values() if isinstance(m, fast._Memo)]
    assert fast._LINES in memos and fast._name_addr in memos
    for memo in memos:  # start empty: what the memos hold never changes a parse
        monkeypatch.setattr(memo, "size", 3)
        monkeypatch.setattr(memo, "old", {})
        memo.clear()
    rng = random.Random("generations")
    recs = []
    for i in range(60):
        data = BASE.replace(b"tag=1", b"tag=%d" % (i % 7)).replace(b"z9hG4bK1", b"z9hG4bK%d" % i)
        recs.append(_rec(mutate(data, rng) if i % 3 == 0 else data, rng.choice(["UDP", "TCP"])))
    for rec in recs + recs[::-1]:
        assert fast_view(rec) == reference(rec), rec.data[:300]
    for memo in memos:
        assert len(memo) <= 3 and len(memo.old) <= 3
