"""Every config rule has a bad-config fixture with the exact one-line message it must give."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ecc_doctor.config import SiteConfig, from_mapping, load, template
from ecc_doctor.errors import ConfigError
from ecc_doctor.secrets import MASK, Secret, redact

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "config"
INVALID = sorted(FIXTURES.glob("invalid-*.toml"))


def _expectation(path: Path) -> tuple[str, bool]:
    first = path.read_bytes().split(b"\n", 1)[0].decode()
    kind, _, text = first.partition(": ")
    return text, kind == "# expect-prefix"


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_bad_config_gives_one_line_naming_file_and_key(path: Path, monkeypatch) -> None:
    monkeypatch.chdir(FIXTURES)
    expected, prefix = _expectation(path)
    with pytest.raises(ConfigError) as info:
        load(Path(path.name))
    message = info.value.message
    assert "\n" not in message
    if prefix:
        assert message.startswith(expected)
    else:
        assert message == expected


def test_valid_file_loads_typed_values(monkeypatch) -> None:
    monkeypatch.chdir(FIXTURES)
    cfg = load("valid-full.toml")
    assert cfg.site.name == "Plant A"
    assert cfg.cm is not None and cfg.cm.port == 5022 and cfg.cm.cti_links == [1]
    assert cfg.aes is not None and cfg.aes.dmcc_tls is True and cfg.aes.dmcc_port == 4722
    assert isinstance(cfg.cm.password, Secret)
    assert cfg.timeouts.for_check("ecc.event-roundtrip") == 60
    assert cfg.timeouts.for_check("cm.cti-link") == 20
    assert cfg.ecc is None and cfg.sftp is None


def test_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such file \(write a template with: ecc-doctor init"):
        load(tmp_path / "absent.toml")


def test_env_secret_is_resolved_and_redacted(monkeypatch) -> None:
    monkeypatch.setenv("ECCD_TEST_PW", "s3cr3t-Value-42")
    secret = Secret("env:ECCD_TEST_PW")
    assert secret.reveal() == "s3cr3t-Value-42"
    assert "s3cr3t" not in repr(secret) and "s3cr3t" not in str(secret)
    assert redact("login with s3cr3t-Value-42 ok") == f"login with {MASK} ok"


def test_missing_env_secret_names_the_variable() -> None:
    os.environ.pop("ECCD_NOT_SET", None)
    with pytest.raises(ConfigError, match="environment variable ECCD_NOT_SET is not set"):
        Secret("env:ECCD_NOT_SET").reveal()


def test_file_secret_strips_newline(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text("hunter2-long\n")
    assert Secret(f"file:{f}").reveal() == "hunter2-long"


def test_plain_secret_in_world_readable_file_warns(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[cm]\nhost = "h"\nusername = "u"\npassword = "plain-pw"\n')
    site.chmod(0o644)
    cfg = load(site)
    assert len(cfg.warnings) == 1
    assert "cm.password holds a plain-text secret" in cfg.warnings[0]
    assert "plain-pw" not in cfg.warnings[0]
    site.chmod(0o600)
    assert load(site).warnings == ()


def test_template_is_valid_toml_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(template())
    cfg = load(path)
    assert isinstance(cfg, SiteConfig)
    for section in ("[cm]", "[aes]", "[ecc]", "[sftp]", "[sip]", "[mgc]", "[timeouts]"):
        assert section in template()


def test_internal_keys_are_not_accepted() -> None:
    with pytest.raises(ConfigError, match="unknown key 'source'"):
        from_mapping({"source": "x"}, source="<t>")


def test_secrets_are_only_top_level_section_fields() -> None:
    """config._secret_fields looks at top-level section fields only: a Secret nested in a
    list, table or sub-section would be missed by the load-time checks."""
    import dataclasses
    import typing

    from ecc_doctor.config import SYSTEM_SECTIONS

    def has_secret(tp: object) -> bool:
        if tp is Secret:
            return True
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            hints = typing.get_type_hints(tp)
            return any(has_secret(hints[f.name]) for f in dataclasses.fields(tp))
        return any(has_secret(arg) for arg in typing.get_args(tp))

    top: list[str] = []
    for name, section in SYSTEM_SECTIONS.items():
        hints = typing.get_type_hints(section)
        for f in dataclasses.fields(section):
            tp = hints[f.name]
            if tp is Secret or set(typing.get_args(tp)) == {Secret, type(None)}:
                top.append(f"{name}.{f.name}")
            else:
                assert not has_secret(tp), f"{name}.{f.name} holds a nested Secret"
    assert "cm.password" in top and "sftp.password" in top
