"""[ecc] config rules: one bad-config fixture per rule with the exact one-line message."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecc_doctor.config import load
from ecc_doctor.errors import ConfigError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ecc"
INVALID = sorted(FIXTURES.glob("invalid-*.toml"))


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_bad_ecc_config_gives_exact_one_line(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    expected = path.read_text(encoding="utf-8").split("\n", 1)[0].removeprefix("# expect: ")
    with pytest.raises(ConfigError) as info:
        load(Path(path.name))
    assert info.value.message == expected


def test_valid_ecc_config_loads_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    ecc = load("valid-ecc.toml").ecc
    assert ecc is not None
    assert ecc.callback_port == 8443 and ecc.callback_content_type == "multipart/form-data"
    assert ecc.ecc_path == "/services/EngagementCallControl/"
    assert ecc.action_answer == "answer" and ecc.drop_call_method == "DELETE"
    assert ecc.event_ended == ["ENDED", "DROPPED", "CLEARED"]
    assert str(ecc.token) == "env:ECC_TOKEN"
