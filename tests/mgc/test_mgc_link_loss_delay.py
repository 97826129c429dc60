"""CM's Link Loss Delay Timer (PROTOCOLS.md §6 [DOC]: 1-30 min, default 5): an `[mgc]` key, a
timeline event, and an information note on a capture's flow that never changes its verdict."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner
from rich.console import Console
from tests.conftest import FIXTURES, load_module

from ecc_doctor.captures.mgc import MgcParams, build_timeline
from ecc_doctor.captures.mgc.analyze import analyze_file
from ecc_doctor.captures.mgc.params import load_params
from ecc_doctor.cli import cli
from ecc_doctor.errors import ConfigError
from ecc_doctor.models import Finding, Status

MGC = FIXTURES / "mgc"
RULE = "mgc.link-loss-delay"


def _generator() -> ModuleType:
    return load_module(MGC / "make_captures.py", "mgc_make_captures_lldt")


GEN = _generator()
PARAMS: MgcParams = GEN.PARAMS


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["mgc", *args])
    return result.exit_code, result.stdout, result.stderr


# --- config -------------------------------------------------------------------------------


def test_key_defaults_to_cms_documented_five_minutes() -> None:
    assert load_params(config_path=MGC / "site.toml").link_loss_delay_min == 5
    # a gateway text alone (no [mgc]) cannot hold it: CM's default applies
    assert load_params(gateway_text=MGC / "article.txt").link_loss_delay_min == 5


def test_key_is_read_and_survives_the_gateway_text(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[mgc]\ncontrollers = ["192.0.2.10", "192.0.2.11"]\nlink_loss_delay_min = 12\n')
    assert load_params(config_path=site).link_loss_delay_min == 12
    gw = tmp_path / "gw.txt"
    gw.write_text("set mgc list 192.0.2.10,192.0.2.20\nset reset-times total-search 20\n")
    assert load_params(site, gw).link_loss_delay_min == 12


@pytest.mark.parametrize("value", ["0", "31"])
def test_out_of_range_names_file_and_line(tmp_path: Path, value: str) -> None:
    site = tmp_path / "s.toml"
    site.write_text(f'[mgc]\ncontrollers = ["192.0.2.10"]\nlink_loss_delay_min = {value}\n')
    code, out, err = run("timeline", "--config", str(site))
    assert code == 2 and out == ""
    assert err == (
        f"ecc-doctor: {site}:3: mgc.link_loss_delay_min: expected an integer from 1 to 30, "
        f"got {value}\n"
    )


def test_params_out_of_range_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="link_loss_delay_min: expected minutes from 1 to 30"):
        MgcParams.of(["192.0.2.10"], link_loss_delay_min=31)


# --- timeline -----------------------------------------------------------------------------


def test_timeline_event_at_the_expiry_after_the_loss() -> None:
    timeline = build_timeline(PARAMS)
    event = timeline.event("link-loss-delay")
    assert event.offset_s == 300.0
    assert event.label.startswith("CM drops the gateway's calls if it has not re-registered")
    assert "Link Loss Delay Timer 5 min" in event.label
    assert "started when CM detects the loss" in event.label
    names = [e.name for e in timeline.events]
    assert names == ["link-loss", "link-loss-delay", "primary-search", "total-search", "reset"]
    # a silent loss: CM, like the gateway, starts its timer when it detects the loss
    silent = build_timeline(PARAMS.replace(link_loss_delay_min=30), detection="silent")
    assert silent.event("link-loss-delay").offset_s == 60.0 + 1800.0


def test_timeline_table_and_json_show_the_event(tmp_path: Path) -> None:
    code, out, _ = run("timeline", "--gateway-text", str(MGC / "article.txt"))
    assert code == 0
    assert "CM drops the gateway's calls" in out and "+5:00" in out
    site = tmp_path / "site.toml"
    site.write_text(
        (MGC / "site.toml").read_text().replace("capture =", "link_loss_delay_min = 12\n#")
    )
    code, out, _ = run("timeline", "--config", str(site), "--loss-at", "08:00", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["link_loss_delay_min"] == 12
    assert data["timers"]["link-loss-delay"] == 720.0
    (event,) = [e for e in data["events"] if e["name"] == "link-loss-delay"]
    assert event["at"] == "08:12:00"
    assert "Link Loss Delay Timer 12 min" in event["label"]


def test_svg_draws_it_inside_the_canvas_even_after_total_search(tmp_path: Path) -> None:
    # total-search 3 min, CM keeps the calls 30 min: the line must still be on the plot
    gw = tmp_path / "gw.txt"
    gw.write_text("set mgc list 192.0.2.10,192.0.2.20\nset reset-times total-search 3\n")
    site = tmp_path / "site.toml"
    site.write_text('[mgc]\ngateway_text = "gw.txt"\nlink_loss_delay_min = 30\n')
    svg = tmp_path / "t.svg"
    code, _, err = run("timeline", "--config", str(site), "--svg", str(svg))
    assert code == 0, err
    root = ET.parse(svg).getroot()
    width = float(root.get("width", "0"))
    lines = [e for e in root.iter() if e.get("data-event") == "link-loss-delay"]
    assert len(lines) == 1 and lines[0].get("data-offset") == "1800"
    assert 0 < float(lines[0].get("x1", "-1")) <= width
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "CM drops calls (Link Loss Delay 30 min) · 30:00" in texts


def test_dashboard_mgc_tab_lists_the_event() -> None:
    from ecc_doctor.tui.mgc_view import timeline_view

    console = Console(width=200, record=True)
    console.print(timeline_view(build_timeline(PARAMS)))
    text = console.export_text()
    assert "+5:00" in text and "CM drops the gateway's calls" in text


# --- analysis -----------------------------------------------------------------------------


def _capture(tmp_path: Path, name: str, build: object) -> Path:
    cap = GEN.Capture()
    build(cap)  # type: ignore[operator]
    path = tmp_path / name
    cap.write(path)
    return path


def _note(path: Path, params: MgcParams = PARAMS) -> tuple[Status, Finding | None]:
    (flow,) = analyze_file(path, params=params)
    notes = [f for f in flow.findings if f.rule == RULE]
    assert len(notes) <= 1
    if notes:
        assert notes[0].severity is Status.PASS
    return flow.status, notes[0] if notes else None


def _back_at(t: float, controller: str = GEN.PE) -> object:
    """The PE resets the link; PE/C-LAN every 10 s; *controller* answers at *t*."""

    def build(cap: ModuleType) -> None:
        cap.session(-40, -10, GEN.PE, end="rst")  # RST at -0.1
        for at, c in GEN._model(until=t):
            cap.failed_attempt(at, c)
        cap.registration(t, controller)

    return build


def test_registered_after_the_timer_says_cm_dropped_the_calls(tmp_path: Path) -> None:
    path = _capture(tmp_path, "late.pcap", _back_at(430.0, GEN.CLAN))
    status, note = _note(path)
    assert status is Status.PASS  # information only: the search itself was right
    assert note is not None
    assert note.message.startswith("registered at +7:10.1 from the link loss (frame ")
    assert "after CM's Link Loss Delay Timer (5 min): CM had dropped the gateway's calls" in (
        note.message
    )
    assert len(note.frames) == 2


def test_registered_before_the_timer_says_the_calls_were_kept(tmp_path: Path) -> None:
    path = _capture(tmp_path, "soon.pcap", _back_at(180.0))
    status, note = _note(path)
    assert status is Status.PASS and note is not None
    assert "registered at +3:00.1 from the link loss" in note.message
    assert "within CM's Link Loss Delay Timer (5 min): CM had not yet dropped" in note.message


def test_cms_setting_decides_and_never_the_verdict(tmp_path: Path) -> None:
    # the correct ESS failover at +10:00: after 5 min, within 15 min; a FAIL stays a FAIL
    status5, note5 = _note(MGC / "failover_ess.pcap")
    status15, note15 = _note(MGC / "failover_ess.pcap", PARAMS.replace(link_loss_delay_min=15))
    assert status5 is status15 is Status.PASS
    assert note5 is not None and "after CM's Link Loss Delay Timer (5 min)" in note5.message
    assert note15 is not None and "within CM's Link Loss Delay Timer (15 min)" in note15.message
    fail5, _ = _note(MGC / "early_crossing.pcap")
    fail15, _ = _note(MGC / "early_crossing.pcap", PARAMS.replace(link_loss_delay_min=15))
    assert fail5 is fail15 is Status.FAIL


def test_silent_loss_near_the_expiry_says_may_have(tmp_path: Path) -> None:
    # last traffic at -49.95 s; CM detects it 40-60 s later: its timer expires at +5:40..+6:00
    def build(cap: ModuleType) -> None:
        cap.session(-90, -50, GEN.PE)
        for at, c in GEN._model(until=300):
            cap.failed_attempt(at, c)
        cap.registration(300, GEN.PE)

    status, note = _note(_capture(tmp_path, "silent.pcap", build))
    assert status is Status.PASS and note is not None
    assert "registered at +5:50 from the link loss" in note.message
    assert "about when CM's Link Loss Delay Timer (5 min) expired" in note.message
    assert "40-60 s after the last traffic" in note.message
    assert "may have dropped" in note.message


def test_no_registration_past_the_timer_and_no_loss_in_the_capture(tmp_path: Path) -> None:
    status, note = _note(MGC / "total_search_reset.pcap")
    assert status is Status.PASS and note is not None
    assert note.message.startswith("no registration within CM's Link Loss Delay Timer (5 min)")
    assert "CM has dropped the gateway's calls" in note.message

    def mid_outage(cap: ModuleType) -> None:  # tcpdump started after the loss: no note
        for at, c in GEN._model(until=200):
            cap.failed_attempt(at + 400, c)
        cap.registration(600, GEN.ESS)

    _, none = _note(_capture(tmp_path, "mid.pcap", mid_outage))
    assert none is None
