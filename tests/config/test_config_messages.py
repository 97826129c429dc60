"""Config messages a newcomer meets (QA 4b #2, #6, #7, #10): the line of a bad value, the
closest known key, every unset env: secret in one run, the vt220 default."""

from __future__ import annotations

import doctest
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import ecc_doctor.config.positions as positions
from ecc_doctor.cli import cli
from ecc_doctor.config import from_mapping, load, template
from ecc_doctor.config.positions import key_lines, line_of
from ecc_doctor.errors import ConfigError


def message(tmp_path: Path, text: str) -> str:
    site = tmp_path / "site.toml"
    site.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(site)
    return info.value.message.removeprefix(f"{site}")


def test_positions_doctest() -> None:
    assert doctest.testmod(positions).failed == 0


def test_the_line_is_found_past_multi_line_values_and_comments(tmp_path: Path) -> None:
    text = (
        "# port = 1 in a comment\n"  # 1
        "[site]\n"  # 2
        'name = """two\n'  # 3
        'port = "in a string" ]\n'  # 4
        '"""\n'  # 5
        "[net]\n"  # 6
        "extra = [\n"  # 7
        '  "a:1", # ]\n'  # 8
        "  { port = 1 },\n"  # 9
        "]\n"  # 10
        "[cm]\n"  # 11
        'host = "h"\n'  # 12
        "prompt-timeout = 0\n"  # 13
    )
    tomllib.loads(text)  # valid TOML: only the values are wrong
    lines = key_lines(text)
    assert line_of(lines, ("cm", "prompt_timeout")) == 13
    assert line_of(lines, ("net", "extra")) == 7
    assert line_of(lines, ("site", "port")) is None or line_of(lines, ("site", "port")) == 2
    assert message(tmp_path, text).startswith(":7: net.extra[1]: expected a string")


def test_dotted_and_quoted_keys_are_found(tmp_path: Path) -> None:
    text = 'cm.host = "h"\ncm."username" = "u"\ncm.password = "env:P"\ncm.port = "22"\n'
    assert message(tmp_path, text) == (
        ":4: cm.port: expected an integer (a number without quotes), got '22'"
    )
    assert message(tmp_path, '[site]\nname = "x"\n\nsfpt.host = "h"\n') == (
        ":4: unknown key 'site.sfpt' (known keys: name)"
    )


def test_unknown_keys_and_sections_suggest_the_closest_known_one(tmp_path: Path) -> None:
    assert message(tmp_path, '[sftp]\nhost = "h"\nusername = "u"\npaht = "/a"\n') == (
        ":4: unknown key 'sftp.paht': did you mean 'path'?"
    )
    assert message(tmp_path, '[cm]\nhost = "h"\nuser-name = "u"\n') == (
        ":3: unknown key 'cm.user-name': did you mean 'username'?"
    )
    assert message(tmp_path, "[timeout]\ndefault = 5\n") == (
        ":1: unknown section [timeout]: did you mean [timeouts]?"
    )
    assert message(tmp_path, "[zzz]\na = 1\n") == (
        ":1: unknown section [zzz] (known sections: aes, cm, ecc, mgc, net, sftp, sip, site, "
        "timeouts)"
    )


def test_every_unset_env_secret_is_named_in_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ECCD_T_CM", "ECCD_T_AES", "ECCD_T_OAM"):
        monkeypatch.delenv(name, raising=False)
    site = tmp_path / "site.toml"
    site.write_text(
        '[cm]\nhost = "127.0.0.1"\nusername = "u"\npassword = "env:ECCD_T_CM"\n'
        '[aes]\nhost = "127.0.0.1"\nusername = "u"\npassword = "env:ECCD_T_AES"\n'
        'oam_password = "env:ECCD_T_OAM"\n',
        encoding="utf-8",
    )
    site.chmod(0o600)
    result = CliRunner().invoke(cli, ["check", "--all", "--config", str(site)])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"ecc-doctor: {site}:4: cm.password: environment variable ECCD_T_CM is not set; "
        f"{site}:8: aes.password: environment variable ECCD_T_AES is not set; "
        f"{site}:9: aes.oam_password: environment variable ECCD_T_OAM is not set"
    ]


@pytest.mark.parametrize(
    ("line", "column", "reason"),
    [
        ("name = ACME HQ", 8, "Invalid value"),
        ("name = 127.0.0.1", 13, "Expected newline or end of document after a statement"),
        ("name = yes", 8, "Invalid value"),
    ],
)
def test_a_bare_word_value_says_text_needs_quotes(
    tmp_path: Path, line: str, column: int, reason: str
) -> None:
    assert message(tmp_path, f"[site]\n{line}\n") == (
        f":2:{column}: TOML syntax error: {reason} (text values need quotes)"
    )


def test_other_syntax_errors_get_no_quote_hint(tmp_path: Path) -> None:
    assert "quotes" not in message(tmp_path, '[site]\nname = "open\n')
    assert "quotes" not in message(tmp_path, "[site\n")


@pytest.mark.parametrize("key", ["host", "callback_host"])
def test_a_bracketed_ipv6_host_is_refused_at_load(key: str) -> None:
    section = "cm" if key == "host" else "ecc"
    base = (
        {"host": "h", "username": "u", "password": "env:P"}
        if section == "cm"
        else {"base_url": "https://[::1]:8443"}  # brackets are right in a URL
    )
    with pytest.raises(ConfigError) as info:
        from_mapping({section: {**base, key: "[::1]"}}, source="s.toml")
    assert info.value.message == (
        f"s.toml: {section}.{key}: write an IPv6 address without brackets ('::1'), got '[::1]'"
    )
    cfg = from_mapping({section: {**base, key: "::1"}}, source="s.toml")
    assert getattr(cfg.section(section), key) == "::1"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:44185/services/EngagementCallControl/",
        "https://127.0.0.1/x",
        "https://127.0.0.1:443/?a=1",
    ],
)
def test_a_base_url_with_a_path_is_refused(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_mapping({"ecc": {"base_url": url}}, source="s.toml")
    assert info.value.message == (
        "s.toml: ecc.base_url: give scheme://host[:port]; the path belongs in "
        f"ecc.ecc_path / eventing_path, got {url!r}"
    )


@pytest.mark.parametrize("url", ["https://127.0.0.1:44185", "https://127.0.0.1/", "https://[::1]"])
def test_a_base_url_without_a_path_loads(url: str) -> None:
    assert from_mapping({"ecc": {"base_url": url}}, source="s.toml").ecc is not None


def test_plain_http_needs_saying_so_and_no_url_carries_credentials() -> None:
    # QA 4a F7: the token or the console password would travel in clear
    with pytest.raises(
        ConfigError, match=r"ecc\.base_url: expected an https:// URL .*allow_plain_http"
    ):
        from_mapping({"ecc": {"base_url": "http://127.0.0.1:8080"}}, source="s.toml")
    plain = {"base_url": "http://127.0.0.1:8080", "allow_plain_http": True}
    assert from_mapping({"ecc": plain}, source="s.toml").ecc is not None
    aes = {"host": "h", "username": "u", "password": "env:P"}
    with pytest.raises(ConfigError, match=r"aes\.oam_url: expected an https:// URL"):
        from_mapping({"aes": {**aes, "oam_url": "http://10.0.0.11"}}, source="s.toml")
    with pytest.raises(ConfigError, match="no user name or password in the URL") as info:
        from_mapping({"aes": {**aes, "oam_url": "https://cust:UrlSecret-5252@h"}}, source="s.toml")
    assert "UrlSecret-5252" not in info.value.message
    # review s6b R4: whatever the scheme, the password is not echoed
    for url in ("http://admin:S3cret@breeze", "ftp://admin:S3cret@breeze", "admin:S3cret@b"):
        with pytest.raises(ConfigError) as info:
            from_mapping({"ecc": {"base_url": url}}, source="s.toml")
        assert "S3cret" not in info.value.message


def test_termtype_defaults_to_vt220_and_ossi_stays_selectable() -> None:
    cm = {"host": "h", "username": "u", "password": "env:P"}
    cfg = from_mapping({"cm": cm}, source="s.toml")
    assert cfg.cm is not None and cfg.cm.termtype == "vt220"
    cfg = from_mapping({"cm": {**cm, "termtype": "ossi"}}, source="s.toml")
    assert cfg.cm is not None and cfg.cm.termtype == "ossi"


def test_init_template_writes_termtype_vt220_with_a_word_on_ossi() -> None:
    lines = template().splitlines()
    index = lines.index('# termtype = "vt220"')
    assert "ossi" in lines[index - 1] and "ossi_fields" in lines[index - 1]
    # uncommenting the [cm] section gives a site file that loads with vt220
    start = lines.index("# [cm]")
    end = lines.index("", start)
    section = [ln[2:] for ln in lines[start:end] if not ln.startswith("#   ")]
    cfg = from_mapping(tomllib.loads("\n".join(section)), source="t")
    assert cfg.cm is not None and cfg.cm.termtype == "vt220"
