"""The expected MGC search, checked against the SIP Adventures article's own description."""

from __future__ import annotations

from tests.conftest import FIXTURES

from ecc_doctor.captures.mgc import MgcParams, build_timeline, load_params

MGC = FIXTURES / "mgc"
PE, CLAN, ESS, LSP = "192.0.2.10", "192.0.2.11", "198.51.100.20", "203.0.113.30"


def test_article_example_timeline() -> None:
    """TP 2, primary-search 10, total-search 15; PE + C-LAN above, ESS + LSP below.

    The article: "the PE and C-LAN of the main CM will be tried several times (with 10 seconds
    between each attempt)"; "a gateway will cycle through the two IP addresses of the main CM
    (PE and C-LAN) for 10 minutes before deciding it's time to move on. At that point, it will
    try any IP addresses below the line following the same rule of 10-seconds between each
    registration attempt"; total-search is "the maximum number of minutes a gateway will attempt
    to register itself before giving up and rebooting. This time includes attempts above and
    below the TP."
    """
    timeline = build_timeline(load_params(gateway_text=MGC / "article.txt"))
    attempts = timeline.attempts
    offsets = [a.offset_s for a in attempts]
    # 10 seconds between each attempt, throughout
    assert all(b - a == 10.0 for a, b in zip(offsets, offsets[1:], strict=False))
    # for 10 minutes only the PE and the C-LAN, cycling in list order
    first_ten = [a for a in attempts if a.offset_s < 600]
    assert [a.controller.address for a in first_ten] == [PE, CLAN] * 30
    assert all(a.above_tp for a in first_ten)
    # then it moves on to the addresses below the line: ESS, then LSP
    after = [a for a in attempts if a.offset_s >= 600]
    assert [(a.offset_s, a.controller.address) for a in after[:2]] == [(600.0, ESS), (610.0, LSP)]
    assert not after[0].above_tp and not after[1].above_tp
    # ... and then round after round over the whole list, each entry once per round
    assert [a.controller.address for a in after[2:10]] == [PE, CLAN, ESS, LSP] * 2
    # total-search includes both phases: nothing at or after 15 minutes, then the reset
    assert offsets[-1] == 890.0 and len(attempts) == 90
    assert timeline.primary_expiry_s == 600.0
    assert timeline.total_expiry_s == 900.0
    assert timeline.event("reset").offset_s == 900.0


def test_timeline_json_has_offsets_targets_sides_and_timers() -> None:
    data = build_timeline(load_params(gateway_text=MGC / "article.txt")).to_dict()
    assert data["attempts"][0] == {
        "index": 0,
        "offset_s": 0.0,
        "target": PE,
        "name": "",
        "entry": 1,
        "above_transition_point": True,
        "phase": "primary",
        "round": 0,
        "on_wire": True,
    }
    assert data["attempts"][60]["target"] == ESS
    assert data["attempts"][60]["above_transition_point"] is False
    assert data["timers"] == {
        "link-loss": 0.0,
        "primary-search": 600.0,
        "total-search": 900.0,
        "reset": 900.0,
        "link-loss-delay": 300.0,  # CM's timer, default 5 min
    }
    assert set(data["assumed"]) == {"retry_interval_s", "port", "tls_port", "reset_gap_s"}


def test_silent_loss_starts_after_the_detection_window() -> None:
    params = MgcParams.of([PE, ESS], primary_search_min=1, total_search_min=2)
    timeline = build_timeline(params, detection="silent")
    assert timeline.attempts[0].offset_s == 60.0
    assert timeline.event("detected").offset_s == 60.0
    assert timeline.primary_expiry_s == 120.0
    assert timeline.total_expiry_s == 180.0


def test_default_transition_point_one_searches_only_the_primary_first() -> None:
    params = MgcParams.of([PE, CLAN, ESS], primary_search_min=1, total_search_min=2)
    targets = [a.controller.address for a in build_timeline(params).attempts]
    assert targets[:6] == [PE] * 6
    assert targets[6:12] == [CLAN, ESS, PE, CLAN, ESS, PE]


def test_sls_is_the_last_entry_and_not_on_the_wire() -> None:
    params = MgcParams.of([PE, ESS], primary_search_min=1, total_search_min=2, sls=True)
    later = [a for a in build_timeline(params).attempts if a.phase == "survivable"]
    assert [a.controller.short for a in later[:4]] == [ESS, "SLS", PE, ESS]
    assert later[1].to_dict()["on_wire"] is False


def test_equal_timers_never_cross() -> None:
    params = MgcParams.of([PE, ESS], primary_search_min=5, total_search_min=5)
    timeline = build_timeline(params)
    assert {a.controller.address for a in timeline.attempts} == {PE}
    assert any("never crosses" in n for n in timeline.notes)
