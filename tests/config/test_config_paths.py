"""One rule for every path in the site file: relative to the site file's folder (QA 4b #1).

Configuration files (CA, certificates, keys, known_hosts) that are not there stop the load
with exit code 2 and one line naming the key and the resolved path; captures do not.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecc_doctor.cli import cli
from ecc_doctor.config import check_secret_references, load
from ecc_doctor.errors import ConfigError
from ecc_doctor.lab import Lab

SECTIONS = {
    "aes": 'host = "127.0.0.1"\nusername = "u"\npassword = "env:P"\n',
    "ecc": 'base_url = "https://127.0.0.1:1"\n',
    "sftp": 'host = "127.0.0.1"\nusername = "u"\npath = "/a"\npassword = "env:P"\n',
    "cm": 'host = "127.0.0.1"\nusername = "u"\npassword = "env:P"\n',
}


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    site = folder / "site.toml"
    site.write_text(text, encoding="utf-8")
    site.chmod(0o600)
    return site


def touch(*paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n", encoding="utf-8")


def test_every_relative_path_is_taken_from_the_site_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "site"
    touch(
        *(folder / "certs" / n for n in ("ca.pem", "c.pem", "c.key", "cb.pem", "cb.key")),
        folder / "kh",
        folder / "id_test",
        folder / "pw.txt",
    )
    (folder / "secrets").mkdir()
    (folder / "secrets" / "cm.secret").write_text("s3cret-value\n", encoding="utf-8")
    write(
        folder,
        "[aes]\n" + SECTIONS["aes"] + 'ca_file = "certs/ca.pem"\n'
        "[ecc]\n" + SECTIONS["ecc"] + 'ca_file = "certs/ca.pem"\nclient_cert = "certs/c.pem"\n'
        'client_key = "certs/c.key"\ncallback_cert = "certs/cb.pem"\n'
        'callback_key = "certs/cb.key"\ntoken = "file:secrets/cm.secret"\n'
        '[cm]\nhost = "h"\nusername = "u"\npassword = "file:secrets/cm.secret"\n'
        'known_hosts = "kh"\n'
        '[sftp]\nhost = "h"\nusername = "u"\npath = "/a"\nkey_file = "id_test"\n'
        'known_hosts = "new/kh"\naccept_new_host_key = true\n'
        '[sip]\ncaptures = ["captures/gone.pcap"]\npassword_file = "pw.txt"\n'
        '[mgc]\ncontrollers = ["10.0.0.1"]\ncapture = "gw.pcap"\n',
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # cron, CI: not the site file's folder
    monkeypatch.setenv("P", "pw-value")
    cfg = load(Path("..") / "site" / "site.toml")
    assert cfg.aes is not None and cfg.ecc is not None and cfg.cm is not None
    assert cfg.sftp is not None and cfg.sip is not None and cfg.mgc is not None
    assert cfg.aes.ca_file == folder / "certs" / "ca.pem"
    assert (cfg.ecc.ca_file, cfg.ecc.client_cert, cfg.ecc.client_key) == (
        folder / "certs" / "ca.pem",
        folder / "certs" / "c.pem",
        folder / "certs" / "c.key",
    )
    assert (cfg.ecc.callback_cert, cfg.ecc.callback_key) == (
        folder / "certs" / "cb.pem",
        folder / "certs" / "cb.key",
    )
    assert cfg.cm.known_hosts == folder / "kh"
    # accept_new_host_key creates it when connecting: it need not exist yet
    assert cfg.sftp.known_hosts == folder / "new" / "kh"
    assert cfg.sftp.key_file == folder / "id_test"
    # captures are resolved alike but may be missing (an ERROR of the check that reads them)
    assert cfg.sip.captures == [folder / "captures" / "gone.pcap"]
    assert cfg.sip.password_file == folder / "pw.txt"
    assert cfg.mgc.capture == folder / "gw.pcap"
    check_secret_references(cfg)
    assert cfg.cm.password.reveal() == "s3cret-value"
    assert cfg.ecc.token is not None and cfg.ecc.token.reveal() == "s3cret-value"
    assert str(cfg.cm.password) == f"file:{folder / 'secrets' / 'cm.secret'}"


def test_absolute_home_and_default_paths_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    touch(home / ".ssh" / "kh", tmp_path / "abs.pem")
    monkeypatch.setenv("HOME", str(home))
    site = write(
        tmp_path / "site",
        "[cm]\n" + SECTIONS["cm"] + 'known_hosts = "~/.ssh/kh"\n'
        "[aes]\n" + SECTIONS["aes"] + f'ca_file = "{tmp_path / "abs.pem"}"\n'
        "[sftp]\n" + SECTIONS["sftp"],
    )
    cfg = load(site)
    assert cfg.cm is not None and cfg.cm.known_hosts == home / ".ssh" / "kh"
    assert cfg.aes is not None and cfg.aes.ca_file == tmp_path / "abs.pem"
    # no known_hosts key: the probes' default (~/.ssh/known_hosts), not a site-file path
    assert cfg.sftp is not None and cfg.sftp.known_hosts is None


@pytest.mark.parametrize(
    ("section", "key", "what"),
    [
        ("aes", "ca_file", "a CA bundle file (PEM)"),
        ("ecc", "ca_file", "a CA bundle file (PEM)"),
        ("ecc", "client_cert", "a certificate file (PEM)"),
        ("ecc", "client_key", "a key file (PEM)"),
        ("ecc", "callback_cert", "a certificate file (PEM)"),
        ("ecc", "callback_key", "a key file (PEM)"),
        ("sftp", "key_file", "a private key file"),
        ("cm", "known_hosts", "a known_hosts file"),
        ("sftp", "known_hosts", "a known_hosts file"),
    ],
)
def test_a_missing_configuration_file_is_a_config_error_with_the_resolved_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str, key: str, what: str
) -> None:
    folder = tmp_path / "site"
    touch(*(folder / n for n in ("c.pem", "c.key", "cb.pem", "cb.key")))
    others = {
        "client_cert": 'client_key = "c.key"\n',
        "client_key": 'client_cert = "c.pem"\n',
        "callback_cert": 'callback_key = "cb.key"\n',
        "callback_key": 'callback_cert = "cb.pem"\n',
    }.get(key, "")
    write(folder, f'[{section}]\n{SECTIONS[section]}{others}{key} = "gone/{key}"\n')
    line = len(SECTIONS[section].splitlines()) + len(others.splitlines()) + 2
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load(Path("site") / "site.toml")
    hint = (
        f"; add the host key with ssh-keyscan, or set {section}.accept_new_host_key = true"
        if key == "known_hosts"
        else ""
    )
    assert info.value.message == (
        f"site/site.toml:{line}: {section}.{key}: expected {what}, got 'gone/{key}' "
        f"(does not exist: {folder / 'gone' / key}{hint})"
    )


def test_a_folder_given_as_known_hosts_is_refused_even_with_accept_new(tmp_path: Path) -> None:
    (tmp_path / "kh").mkdir()
    site = write(
        tmp_path, "[cm]\n" + SECTIONS["cm"] + 'known_hosts = "kh"\naccept_new_host_key = true\n'
    )
    with pytest.raises(ConfigError) as info:
        load(site)
    assert info.value.message == (
        f"{site}:5: cm.known_hosts: expected a known_hosts file, got 'kh' "
        f"(not a file: {tmp_path / 'kh'})"
    )


def test_missing_ca_file_exits_2_before_any_check_runs(tmp_path: Path) -> None:
    site = write(tmp_path / "site", "[aes]\n" + SECTIONS["aes"] + 'ca_file = "certs/ca.pem"\n')
    result = CliRunner().invoke(
        cli, ["check", "--all", "--config", str(site)], env={"P": "pw-value"}
    )
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"ecc-doctor: {site}:5: aes.ca_file: expected a CA bundle file (PEM), got "
        f"'certs/ca.pem' (does not exist: {tmp_path / 'site' / 'certs' / 'ca.pem'})"
    ]


def test_a_missing_file_secret_names_the_resolved_path(tmp_path: Path) -> None:
    site = write(
        tmp_path / "site",
        '[cm]\nhost = "127.0.0.1"\nusername = "u"\npassword = "file:secrets/cm.secret"\n',
    )
    result = CliRunner().invoke(cli, ["check", "cm", "--config", str(site)])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"ecc-doctor: {site}:4: cm.password: cannot read "
        f"{tmp_path / 'site' / 'secrets' / 'cm.secret'}: No such file or directory"
    ]


@pytest.mark.anyio
async def test_the_checks_use_the_resolved_paths_from_another_folder(
    lab: Lab, tmp_path: Path
) -> None:
    """CM with a relative file: secret and a known_hosts created on first use, ECC with a
    relative CA, client certificate and token: PASS from a folder that is not the site's."""
    cm, ecc = lab.config.cm, lab.config.ecc
    assert cm is not None and ecc is not None and ecc.ca_file and ecc.client_cert
    assert cm.termtype == "ossi"  # the lab's site file names its termtype (the default is vt220)
    assert ecc.client_key and ecc.token
    folder = tmp_path / "site"
    files = {
        "secrets/cm.secret": Path(str(cm.password)[5:]),
        "secrets/token": Path(str(ecc.token)[5:]),
        "certs/ca.pem": ecc.ca_file,
        "certs/client.pem": ecc.client_cert,
        "certs/client.key": ecc.client_key,
    }
    for name, source in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, folder / name)
    site = write(
        folder,
        f'[site]\nname = "paths"\n[cm]\nhost = "127.0.0.1"\nport = {cm.port}\n'
        f'username = "{cm.username}"\npassword = "file:secrets/cm.secret"\n'
        'termtype = "ossi"\nknown_hosts = "kh/known_hosts"\naccept_new_host_key = true\n'
        f'[ecc]\nbase_url = "{ecc.base_url}"\nca_file = "certs/ca.pem"\n'
        'client_cert = "certs/client.pem"\nclient_key = "certs/client.key"\n'
        'token = "file:secrets/token"\nextension_a = "3301"\n',
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ecc_doctor",
        "check",
        "cm.license",
        "ecc.api",
        "--config",
        os.path.relpath(site, elsewhere),
        "--format",
        "json",
        cwd=elsewhere,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, (out + err).decode()
    statuses = {r["id"]: r["status"] for r in json.loads(out)["results"]}
    assert statuses == {"cm.license": "PASS", "ecc.api": "PASS"}
    assert (folder / "kh" / "known_hosts").read_text(encoding="utf-8").strip()
