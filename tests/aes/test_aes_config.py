"""[aes] settings: defaults and the validation rules, with their exact messages."""

from __future__ import annotations

from typing import Any

import pytest

from ecc_doctor.config import from_mapping
from ecc_doctor.errors import ConfigError
from ecc_doctor.probes.dmcc import PROTOCOL_VERSIONS, resolve_version

BASE = {"host": "10.0.0.11", "username": "ctiuser", "password": "env:AES_PASSWORD"}


def load(**extra: Any) -> Any:
    return from_mapping({"aes": {**BASE, **extra}}, source="site.toml").aes


def test_defaults_follow_the_app_note_and_protocols_md() -> None:
    aes = load()
    assert (aes.dmcc_port, aes.dmcc_tls, aes.application_id) == (4721, False, "ecc-doctor")
    assert [resolve_version(v) for v in aes.protocol_versions][:2] == [
        PROTOCOL_VERSIONS["7.0.0"],
        PROTOCOL_VERSIONS["6.3.3"],
    ]
    assert aes.oam_summary_path.startswith("/aesvcs/")
    assert aes.oam_password is None and aes.oam_username == ""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"protocol_versions": []}, "aes.protocol_versions: expected at least one version, got []"),
        ({"oam_url": "aes.example"}, "aes.oam_url: expected an https:// URL, got 'aes.example'"),
        (
            {"oam_summary_path": "status.xhtml"},
            "aes.oam_summary_path: expected a path starting with '/', got 'status.xhtml'",
        ),
        (
            {"session_duration_s": 5},
            "aes.session_duration_s: expected an integer from 10 to 86400, got 5",
        ),
    ],
)
def test_bad_values_are_named(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(**extra)
    assert info.value.message == f"site.toml: {message}"
