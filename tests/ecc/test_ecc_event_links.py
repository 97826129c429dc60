"""Connection actions follow the links ECC's events give (seed 001's ACTIVE event), and an
ECC that serves only one form of the connection resource still gets every action."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ecc_doctor.checks import ecc_roundtrip
from ecc_doctor.config.ecc import EccConfig
from ecc_doctor.lab import Lab
from ecc_doctor.lab.ecc import EccEmulator
from ecc_doctor.models import Status
from ecc_doctor.probes.ecc_event_parse import parse_event_text, record_from_body
from ecc_doctor.probes.ecc_rest import EccRest
from ecc_doctor.transcript import Transcript

from .conftest import no_traceback, run_one, with_ecc
from .test_ecc_event_parse import seed_events

BASE = "/services/EngagementCallControl"


@contextlib.asynccontextmanager
async def ecc_only(**options: Any) -> AsyncIterator[tuple[Lab, EccEmulator]]:
    emulator = EccEmulator(budget_ms=1000.0, slow_delay=0.4, trunk_answer_delay=0.1, **options)
    async with Lab([emulator]) as lab:
        yield lab, emulator
        assert lab.status()["ecc"]["active_calls"] == 0, "a call was left up"


def _rest(**changes: Any) -> EccRest:
    return EccRest(EccConfig(base_url="https://breeze.example", **changes), Transcript("t"))


def test_the_seed_active_event_decides_where_hold_and_drop_go() -> None:
    active = record_from_body(parse_event_text(seed_events()[1]))
    # the blog's links name the call "callID" and the connection "connectionId"
    call, conn = "callID", "connectionId"
    paths = _rest().action_paths(call, conn, "hold", active)
    assert paths == [
        (f"{BASE}/connections/connectionId?action=hold", "the connectionHref of the ACTIVE event"),
        (f"{BASE}/calls/callID/connections/connectionId?action=hold", ""),
    ]
    # the blog's consultCallHref names the same resource
    assert _rest().action_paths(call, conn, "consult", active)[0] == (
        f"{BASE}/connections/connectionId?action=consult",
        "the consultCallHref of the ACTIVE event",
    )
    # turned off: the configured action_path first
    off = _rest(follow_event_links=False).action_paths(call, conn, "hold", active)
    assert off[0] == (f"{BASE}/calls/callID/connections/connectionId?action=hold", "")


@pytest.mark.parametrize(
    "href",
    [
        "https://elsewhere.example/admin/reset",  # not under ecc_path
        f"https://x{BASE}/connections/../../admin",  # climbs out of it
        f"https://x{BASE}/connections/c1\r\nX-Evil: 1",  # control characters
        f"https://x{BASE}/connections/c1\x7f",  # DEL (was an internal error)
        f"https://x{BASE}/connections/VICTIM",  # another connection (review s6 F7)
        f"https://x{BASE}/calls/k/connections/VICTIM",
        f"https://x{BASE}/%2e%2e/%2e%2e/AdminService/x",  # encoded dot segments (F8)
        f"https://x{BASE}/connections/c1/..;/..;/other",  # Tomcat path parameters
        f"https://x{BASE}/connections\\c1",  # a backslash
    ],
)
def test_a_link_outside_the_ecc_path_is_not_followed(href: str) -> None:
    event = record_from_body(
        {"callEvent": "ACTIVE", "callID": "k", "connectionId": "c1", "connectionHref": href}
    )
    first_path, source = _rest().action_paths("k", "c1", "hold", event)[0]
    assert source == "" and first_path == f"{BASE}/calls/k/connections/c1?action=hold"


def test_a_link_never_chooses_the_action() -> None:
    # a forged operation link asks for a drop and another query: the form is taken, the
    # action is ours (review s6 F7)
    event = record_from_body(
        {
            "callEvent": "ACTIVE",
            "callID": "k",
            "connectionId": "c1",
            "operations": {"holdCallHref": f"https://x{BASE}/connections/c1?action=drop"},
            "connectionHref": f"https://x{BASE}/connections/c1?transaction=9",
        }
    )
    for path, _ in _rest().action_paths("k", "c1", "hold", event):
        assert path.endswith("?action=hold"), path


def test_a_link_of_another_connection_is_not_followed() -> None:
    event = record_from_body(
        {"callEvent": "ACTIVE", "callID": "k", "connectionHref": f"https://x{BASE}/connections/c9"}
    )
    assert _rest().action_paths("k", "c1", "hold", event)[0][1] == ""


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("forms", "follow"),
    [
        (("connections",), True),  # what the events link to only
        (("connections",), False),
        (("calls",), True),  # the public demo's form only
    ],
)
async def test_roundtrip_passes_whichever_form_ecc_serves(
    forms: tuple[str, ...], follow: bool
) -> None:
    async with ecc_only(action_forms=forms) as (lab, ecc):
        config = with_ecc(lab.config, follow_event_links=follow)
        result = await run_one(ecc_roundtrip, config)
        no_traceback(result)
        assert result.status is Status.PASS, result.summary
        served = [(form, action) for form, action, status in ecc.action_log if status == 200]
        assert [a for _, a in served] == ["answer", "hold", "retrieve", "drop"]
        assert {form for form, _ in served} == set(forms)
        misses = [entry for entry in ecc.action_log if entry[2] == 404]
        if forms == ("connections",) and follow:
            # only the answer, before any event of B's connection, tried the demo's form
            assert [a for _, a, _ in misses] == ["answer"]
        elif forms == ("connections",):
            assert [a for _, a, _ in misses] == ["answer", "hold", "retrieve", "drop"]


@pytest.mark.anyio
async def test_an_ecc_serving_neither_form_is_an_error_naming_the_step() -> None:
    async with ecc_only(action_forms=()) as (lab, _ecc):
        result = await run_one(ecc_roundtrip, lab.config)
        no_traceback(result)
        assert result.status in (Status.FAIL, Status.ERROR)
        assert "answer" in result.summary and "404" in result.summary, result.summary
