"""The IM archive reader: layouts, containers, and hostile files (bombs, XXE, binary)."""

from __future__ import annotations

import gzip
import io
import time
import tracemalloc
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecc_doctor import cancel
from ecc_doctor.cli import cli
from ecc_doctor.config import from_mapping
from ecc_doctor.errors import ConfigError
from ecc_doctor.imarchive import ArchiveError, ImRecord, Layout, container_of, parse_file
from ecc_doctor.imarchive_marker import MarkerMatcher, address_matches
from ecc_doctor.lab.sftp import archive_xml
from ecc_doctor.models import Status
from ecc_doctor.probes.sftp import display_name, local_name

T0 = datetime(2026, 11, 21, 7, 0, tzinfo=UTC).timestamp()
GOOD = archive_xml(
    [
        ("alice@x.example", "bob@x.example", "hello there", T0),
        ("bob@x.example", "alice@x.example", "hi back", T0 + 5),
    ]
)
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]><lolz>&lol9;</lolz>"
)
XXE = b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><m>&x;</m>'


def parse(tmp_path: Path, name: str, data: bytes, **kw: object) -> object:
    path = tmp_path / "f"
    path.write_bytes(data)
    records: list[ImRecord] = []
    summary = parse_file(
        path,
        name,
        kw.pop("layout", Layout()),  # type: ignore[arg-type]
        max_xml_bytes=int(kw.pop("cap", 1 << 20)),  # type: ignore[call-overload]
        deadline=time.monotonic() + 10,
        on_record=records.append,
    )
    return summary, records


def test_default_layout_reads_sender_recipient_body_and_time(tmp_path: Path) -> None:
    summary, records = parse(tmp_path, "im.xml", GOOD)
    assert summary.root == "imArchive" and summary.records == 2
    first = records[0]
    assert (first.sender, first.recipients, first.body) == (
        "alice@x.example",
        ("bob@x.example",),
        "hello there",
    )
    assert first.timestamp == datetime(2026, 11, 21, 7, 0, tzinfo=UTC)


def test_namespaced_child_elements_and_several_recipients(tmp_path: Path) -> None:
    doc = (
        b'<a:log xmlns:a="urn:avaya:im"><a:im><a:sender>sip:56207@d.example</a:sender>'
        b"<a:recipients><a:recipient>56208@d.example</a:recipient>"
        b"<a:recipient>56209@d.example</a:recipient></a:recipients>"
        b"<a:text>multi</a:text><a:sent>1795244400000</a:sent></a:im></a:log>"
    )
    layout = Layout(record_element="im", timestamp_paths=("sent",))
    summary, records = parse(tmp_path, "x.xml", doc, layout=layout)
    assert summary.root == "log"
    rec = records[0]
    assert rec.sender == "sip:56207@d.example"
    assert rec.recipients == ("56208@d.example", "56209@d.example")
    assert rec.body == "multi"
    assert rec.timestamp == datetime.fromtimestamp(1795244400, UTC)


def test_zip_and_gzip_containers_by_name_and_by_magic(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.xml", GOOD)
        zf.writestr("b.xml", GOOD)
    assert parse(tmp_path, "day.zip", buf.getvalue())[0].records == 4  # type: ignore[attr-defined]
    assert parse(tmp_path, "day.xml.gz", gzip.compress(GOOD))[0].records == 2  # type: ignore[attr-defined]
    assert container_of("noext", buf.getvalue()[:4]) == "zip"
    assert container_of("noext", gzip.compress(b"x")[:4]) == "gzip"


@pytest.mark.parametrize(
    ("name", "data", "kind", "words"),
    [
        ("bomb.xml", BOMB, "entities", "entity-expansion bomb"),
        ("xxe.xml", XXE, "external", "external entity 'x'"),
        ("bin.xml", bytes(range(256)) * 4, "malformed", "not well-formed"),
        ("cut.xml", GOOD[: len(GOOD) // 2], "malformed", "not well-formed"),
        ("empty.xml", b"  \n", "empty", "empty"),
        ("bad.zip", b"PK\x03\x04 not really", "container", "damaged"),
        ("bad.gz", b"\x1f\x8b\x08\x00garbage", "container", "damaged"),
    ],
)
def test_hostile_and_broken_files_are_named(
    tmp_path: Path, name: str, data: bytes, kind: str, words: str
) -> None:
    with pytest.raises(ArchiveError) as info:
        parse(tmp_path, name, data)
    assert info.value.kind == kind
    assert words in info.value.message


def test_xml_bomb_is_refused_without_expanding(tmp_path: Path) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match="not expanded"):
            parse(tmp_path, "bomb.xml", BOMB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * (1 << 20)  # 10^9 'lol's would be gigabytes


HUGE_RECORDS = {
    "elements": b'<archive><message from="a@x" to="b@x">' + b"<b/>" * 150_000 + b"</message>",
    "text": b'<archive><message from="a@x" to="b@x"><body>'
    + b"x" * 6_000_000
    + b"</body></message>",
    "attribute": b'<archive><message from="a@x" to="b@x"><b v="'
    + b"y" * 200_000
    + b'"/></message>',
}


@pytest.mark.parametrize("shape", sorted(HUGE_RECORDS))
def test_one_huge_record_is_counted_but_not_built_with_bounded_memory(
    tmp_path: Path, shape: str
) -> None:
    data = HUGE_RECORDS[shape] + (
        b'<message from="c@x" to="d@x" timestamp="2026-11-21T07:00:00Z"><body>after</body>'
        b"</message></archive>"
    )
    tracemalloc.start()
    try:
        summary, records = parse(tmp_path, "im.xml", data, cap=16 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * (1 << 20), f"peak {peak} bytes while parsing one huge record"
    assert summary.records == 2 and summary.oversize == 1  # type: ignore[attr-defined]
    assert [r.body for r in records] == ["after"]  # type: ignore[attr-defined]


def test_nesting_past_the_depth_cap_is_refused(tmp_path: Path) -> None:
    data = b"<archive>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</archive>"
    with pytest.raises(ArchiveError) as info:
        parse(tmp_path, "deep.xml", data)
    assert info.value.kind == "too-big"
    assert "elements nested deeper than 256" in info.value.message


def test_parsing_stops_when_the_check_has_ended(tmp_path: Path) -> None:
    with cancel.scope() as stop:
        stop.set()  # as the runner does when the check times out
        with pytest.raises(cancel.WorkStopped):
            parse(tmp_path, "im.xml", GOOD)


@pytest.mark.parametrize("container", ["gz", "zip"])
def test_decompression_bomb_stops_at_the_cap(tmp_path: Path, container: str) -> None:
    inner = b"<a>" + b" " * (64 << 20) + b"</a>"
    if container == "gz":
        data = gzip.compress(inner, compresslevel=9)
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("a.xml", inner)
        data = buf.getvalue()
    assert len(data) < (1 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError) as info:
            parse(tmp_path, f"bomb.{container}", data, cap=4 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.kind == "too-big"
    assert peak < 16 * (1 << 20)


def test_well_formed_file_with_other_elements_has_zero_records(tmp_path: Path) -> None:
    summary, records = parse(tmp_path, "x.xml", b"<report><row a='1'/></report>")
    assert (summary.root, summary.records, records) == ("report", 0, [])


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"../../etc/im.xml", "../../etc/im.xml"),
        (b"\xff\xfeim.xml", "\\xff\\xfeim.xml"),
        (b"im\n.xml", "im\\x0a.xml"),
    ],
)
def test_remote_names_are_escaped_for_display(raw: bytes, shown: str) -> None:
    assert display_name(raw) == shown


@pytest.mark.parametrize("raw", [b"../../etc/passwd", b"/abs/x.xml", b"..", b"\xff\xfe/..", b""])
def test_local_names_never_leave_the_download_dir(tmp_path: Path, raw: bytes) -> None:
    name = local_name(7, raw)
    assert "/" not in name and not name.startswith(".")
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()


def _matcher(body: str = "hello", after: datetime | None = None) -> MarkerMatcher:
    return MarkerMatcher(
        "alice@x.example",
        "bob@x.example",
        body,
        after or datetime.fromtimestamp(T0 - 60, UTC),
        timedelta(hours=1, minutes=15),
    )


def _rec(sender: str, to: str, body: str, ts: float = T0) -> ImRecord:
    return ImRecord(sender, (to,), body, datetime.fromtimestamp(ts, UTC))


def test_marker_matches_exactly() -> None:
    m = _matcher()
    m.feed(_rec("sip:Alice@x.example", "bob@x.example/softphone", "well hello there"), "f", T0)
    status, message, _ = m.verdict(datetime.fromtimestamp(T0 + 60, UTC))
    assert status is Status.PASS and "found in f" in message


def test_marker_archived_after_its_upload_window_fails_saying_how_late() -> None:
    m = _matcher()
    m.feed(_rec("alice@x.example", "bob@x.example", "hello"), "im_late.xml", T0 + 5 * 3600 + 120)
    status, message, lines = m.verdict(datetime.fromtimestamp(T0 + 6 * 3600, UTC))
    assert status is Status.FAIL
    assert message == (
        "marker IM from alice@x.example to bob@x.example sent after 2026-11-21 06:59 UTC found in"
        " im_late.xml, but archived 5 h 2 min after it was sent; expected within 1 h 15 min"
    )
    assert any(line.startswith("match in im_late.xml") for line in lines)


def test_marker_archived_within_its_window_passes() -> None:
    m = _matcher()
    m.feed(_rec("alice@x.example", "bob@x.example", "hello"), "im_ok.xml", T0 + 3600 + 600)
    status, _, _ = m.verdict(datetime.fromtimestamp(T0 + 6 * 3600, UTC))
    assert status is Status.PASS


def test_marker_in_two_files_is_judged_by_the_earliest_upload() -> None:
    # a cumulative daily file re-uploaded 5 h later holds the IM too; files are read newest
    # first, but the IM was archived in time in the hourly file
    m = _matcher()
    record = _rec("alice@x.example", "bob@x.example", "hello")
    m.feed(record, "im_daily.xml", T0 + 5 * 3600)
    m.feed(record, "im_1000.xml", T0 + 50 * 60)
    status, message, lines = m.verdict(datetime.fromtimestamp(T0 + 6 * 3600, UTC))
    assert status is Status.PASS, message
    assert "found in im_1000.xml" in message
    assert any(line.startswith("match in im_1000.xml") for line in lines)
    assert "2 records sent since then, in 2 file(s) read" in lines


def test_marker_body_mismatch_fails_naming_the_body_after_the_window() -> None:
    m = _matcher(body="good morning")
    m.feed(_rec("alice@x.example", "bob@x.example", "good evening"), "im_1.xml", T0)
    status, message, _ = m.verdict(datetime.fromtimestamp(T0 + 3 * 3600, UTC))
    assert status is Status.FAIL
    assert "differs in body 'good evening' lacks 'good morning'" in message
    assert "sender" not in message and "recipient" not in message


def test_marker_recipient_mismatch_names_the_recipient() -> None:
    m = _matcher()
    m.feed(_rec("alice@x.example", "carol@x.example", "hello"), "im_1.xml", T0)
    status, message, _ = m.verdict(datetime.fromtimestamp(T0 + 3 * 3600, UTC))
    assert status is Status.FAIL
    assert "recipient 'carol@x.example', expected 'bob@x.example'" in message


def test_marker_before_the_window_ends_is_pending_then_missing() -> None:
    m = _matcher()
    m.feed(_rec("alice@x.example", "bob@x.example", "hello", ts=T0 - 3600), "old", T0)
    pending = m.verdict(datetime.fromtimestamp(T0 + 600, UTC))
    late = m.verdict(datetime.fromtimestamp(T0 + 2 * 3600, UTC))
    assert pending[0] is Status.WARN and "not archived yet" in pending[1]
    assert late[0] is Status.FAIL and "missing from the archive" in late[1]


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        ("56207", "56207@avaya.example", True),
        ("56207@avaya.example", "sip:56207@Avaya.example", True),
        ("56207@avaya.example", "56208@avaya.example", False),
        ("a@x", "xmpp:a@x/res", True),
    ],
)
def test_address_matching(expected: str, actual: str, ok: bool) -> None:
    assert address_matches(expected, actual) is ok


BASE = {"host": "h", "username": "u", "path": "/p", "password": "env:X"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"file_patterns": []}, "sftp.file_patterns: expected at least one pattern, got []"),
        ({"body_paths": []}, "sftp.body_paths: expected at least one path, got []"),
        (
            {"record_element": "a/b"},
            "sftp.record_element: expected an element name, got 'a/b'",
        ),
        (
            {"marker_from": "a@x"},
            "sftp.marker_to: expected a value when another marker_* key is set, got ''",
        ),
        (
            {"marker_from": "a", "marker_to": "b", "marker_body": "c", "marker_sent_after": "x"},
            "sftp.marker_sent_after: expected an ISO 8601 time like 2026-11-21T07:05:00Z, got 'x'",
        ),
        (
            {"sender_paths": ["from[("]},
            "sftp.sender_paths: expected an ElementTree path, 'path/@attr' or '@attr', "
            "got 'from[('",
        ),
        ({"upload_frequency_hours": 0}, "sftp.upload_frequency_hours: expected a number from"),
    ],
)
def test_bad_sftp_settings_are_named(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_mapping({"sftp": {**BASE, **extra}}, source="site.toml")
    assert info.value.message.startswith(f"site.toml: {message}")


def test_an_sftp_section_without_a_login_method_is_a_config_error() -> None:
    section = {k: v for k, v in BASE.items() if k != "password"}
    with pytest.raises(ConfigError) as info:
        from_mapping({"sftp": section}, source="site.toml")
    assert info.value.message == (
        "site.toml: sftp.password: expected a secret reference, or set sftp.key_file, got neither"
    )


@pytest.mark.parametrize(("make", "why"), [(None, "does not exist"), ("dir", "not a file")])
def test_a_key_file_that_is_not_there_is_a_config_error(
    tmp_path: Path, make: str | None, why: str
) -> None:
    key = tmp_path / "id_ed25519"
    if make == "dir":
        key.mkdir()
    section = {k: v for k, v in BASE.items() if k != "password"}
    with pytest.raises(ConfigError) as info:
        from_mapping({"sftp": {**section, "key_file": str(key)}}, source="site.toml")
    assert info.value.message == (
        f"site.toml: sftp.key_file: expected a private key file, got '{key}' ({why})"
    )


def test_a_missing_key_file_exits_2_at_load(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(
        f'[sftp]\nhost = "h"\nusername = "u"\npath = "/p"\nkey_file = "{tmp_path / "nokey"}"\n'
    )
    site.chmod(0o600)
    result = CliRunner().invoke(cli, ["check", "presence.im-archive", "--config", str(site)])
    assert result.exit_code == 2, result.output
    assert "sftp.key_file: expected a private key file" in result.output
