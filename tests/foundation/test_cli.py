"""The CLI as a user runs it: exit codes, one-line errors, reports, lab faults, secrets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner
from junitparser import JUnitXml

from ecc_doctor.checks import CHECKS
from ecc_doctor.cli import cli
from ecc_doctor.lab import Lab
from ecc_doctor.models import Status

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "config"


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ecc_doctor", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


def test_check_all_against_lab_writes_junit_and_json_in_one_run(tmp_path: Path) -> None:
    junit, report = tmp_path / "out.xml", tmp_path / "out.json"
    proc = run("check", "--all", "--lab", "--junit", str(junit), "--json", str(report))
    doc = json.loads(report.read_text())
    statuses = {r["id"]: r["status"] for r in doc["results"]}
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(statuses.values()) <= {"PASS", "SKIP"}, statuses
    assert "net.reachability" in proc.stdout and "checks:" in proc.stdout
    xml = JUnitXml.fromfile(str(junit))
    cases = [case for suite in xml for case in suite]
    assert sorted(c.name for c in cases) == sorted(statuses)
    xml.update_statistics()
    assert xml.failures == 0 and xml.errors == 0
    assert xml.skipped == sum(1 for s in statuses.values() if s == "SKIP")


def test_network_flap_fails_naming_the_endpoint() -> None:
    proc = run("check", "net.reachability", "--lab", "--lab-fault", "network-flap")
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "connection refused" in proc.stdout
    assert "sm-sip-tcp" in proc.stdout


def test_unknown_lab_fault_is_usage_error() -> None:
    proc = run("check", "--all", "--lab", "--lab-fault", "no-such-fault")
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "ecc-doctor: unknown lab fault 'no-such-fault' (known: network-flap"
    )
    assert "Traceback" not in proc.stderr


def test_toml_syntax_error_exit_2_with_file_and_line() -> None:
    proc = run("check", "--all", "--config", "invalid-toml-syntax.toml", cwd=FIXTURES)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "ecc-doctor: invalid-toml-syntax.toml:3:8: TOML syntax error: Invalid value"
    ]


def test_unknown_key_exit_2_naming_the_key() -> None:
    proc = run("check", "--all", "--config", "invalid-unknown-key.toml", cwd=FIXTURES)
    assert proc.returncode == 2
    assert "unknown key 'cm.prot'" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_wrong_type_exit_2_naming_the_key() -> None:
    proc = run("check", "--all", "--config", "invalid-wrong-type.toml", cwd=FIXTURES)
    assert proc.returncode == 2 and "cm.port: expected an integer" in proc.stderr


def test_unknown_check_id_is_usage_error() -> None:
    proc = run("check", "cm.nope", "--lab")
    assert proc.returncode == 2 and "unknown check 'cm.nope'" in proc.stderr


def test_missing_site_file_exit_2(tmp_path: Path) -> None:
    proc = run("check", "--all", cwd=tmp_path)
    assert proc.returncode == 2
    assert "ecc-doctor.toml: no such file (write a template with: ecc-doctor init" in proc.stderr


def _fake_check(name: str, body) -> types.ModuleType:
    module = types.ModuleType(f"fake_{name}")
    module.ID, module.TITLE, module.SOURCE, module.NEEDS = f"test.{name}", name, "test", ()
    module.check = body
    return module


def test_raising_check_is_error_without_traceback_unless_debug(monkeypatch, tmp_path) -> None:
    async def boom(ctx):
        raise RuntimeError("kaboom")

    monkeypatch.setitem(CHECKS, "test.boom", _fake_check("boom", boom))
    site = tmp_path / "site.toml"
    site.write_text('[site]\nname = "t"\n')
    runner = CliRunner()
    plain = runner.invoke(cli, ["check", "test.boom", "--config", str(site)])
    assert plain.exit_code == 1
    assert "internal error in test.boom: RuntimeError: kaboom" in plain.output
    assert "Traceback" not in plain.output
    debug = runner.invoke(cli, ["check", "test.boom", "--config", str(site), "--debug"])
    assert debug.exit_code == 1 and "Traceback" in debug.output


def test_hanging_check_cut_at_timeout(monkeypatch, tmp_path) -> None:
    async def hang(ctx):
        await asyncio.Event().wait()

    monkeypatch.setitem(CHECKS, "test.hang", _fake_check("hang", hang))
    site = tmp_path / "site.toml"
    site.write_text('[site]\nname = "t"\n')
    result = CliRunner().invoke(
        cli, ["check", "test.hang", "--config", str(site), "--timeout", "0.2", "--format", "json"]
    )
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["results"][0]["status"] == Status.ERROR
    assert doc["results"][0]["summary"] == "timed out after 0.2 s (--timeout)"


@pytest.mark.anyio
async def test_env_password_never_appears_in_any_output(tmp_path: Path) -> None:
    """Every secret of the lab site given as env:NAME; all formats with --debug stay clean."""
    async with Lab() as lab:
        data = json.loads(json.dumps(lab.data))
        env: dict[str, str] = {}
        for name, section in data.items():
            for key, value in list(section.items()) if isinstance(section, dict) else []:
                if (
                    isinstance(value, str)
                    and value.startswith("file:")
                    and value.endswith(".secret")
                ):
                    var = f"ECCD_{name}_{key}".upper()
                    env[var] = Path(value[5:]).read_text().strip()
                    section[key] = f"env:{var}"
        site = tmp_path / "site.toml"
        site.write_text(tomli_w.dumps(data))
        site.chmod(0o600)
        junit, report = tmp_path / "o.xml", tmp_path / "o.json"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ecc_doctor",
            "check",
            "--all",
            "--debug",
            "--config",
            str(site),
            "--format",
            "table,json,junit",
            "--junit",
            str(junit),
            "--json",
            str(report),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **env, "NO_COLOR": "1"},
        )
        out, err = await asyncio.wait_for(proc.communicate(), 180)
    text = out.decode() + err.decode() + junit.read_text() + report.read_text()
    assert "checks:" in text
    for value in env.values():
        assert value not in text


def test_list_shows_every_check_with_source() -> None:
    proc = run("list", "--format", "json")
    rows = json.loads(proc.stdout)
    assert proc.returncode == 0
    assert {r["id"] for r in rows} >= {"net.reachability"}
    assert all(r["source"] and r["title"] for r in rows)


def test_init_writes_template_and_refuses_to_overwrite(tmp_path: Path) -> None:
    proc = run("init", cwd=tmp_path)
    assert proc.returncode == 0 and (tmp_path / "ecc-doctor.toml").exists()
    again = run("init", cwd=tmp_path)
    assert again.returncode == 2 and "exists; use --force" in again.stderr
    checked = run("check", "--all", cwd=tmp_path)  # the template alone: everything SKIPs
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # exit 0 (SKIP is "not configured"), but said plainly: nothing was verified
    assert "ecc-doctor: nothing was verified: all " in checked.stderr
    one = run("check", "cm.license", cwd=tmp_path)
    assert one.returncode == 0
    assert "nothing was verified: the check was skipped (not configured" in one.stderr
    lab = run("check", "cm.license", "--lab")
    assert lab.returncode == 0 and "nothing was verified" not in lab.stderr


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0 and "ecc-doctor, version" in proc.stdout


def _start_lab(cfg: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """``ecc-doctor lab`` with a stdin pipe that stays open (as a terminal's does)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecc_doctor", "lab", "--write-config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("# type 'fault NAME'"):
            break
    return proc, lines


def _stop_lab(proc: subprocess.Popen[str], sig: signal.Signals) -> str:
    """Send *sig* while stdin is still open; the lab must exit on its own (no Enter, no EOF)."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"ecc-doctor lab still running 20 s after {sig.name}") from None
    assert proc.stderr is not None
    return proc.stderr.read()


def test_lab_command_prints_config_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    cfg = tmp_path / "lab.toml"
    proc, lines = _start_lab(cfg)
    try:
        assert any(line.startswith("[site]") for line in lines)
        checked = run("check", "net.reachability", "--config", str(cfg))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        err = _stop_lab(proc, signal.SIGINT)
    finally:
        if proc.poll() is None:
            proc.kill()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err


def test_lab_command_sigterm_cleans_up_like_ctrl_c(tmp_path: Path) -> None:
    cfg = tmp_path / "lab.toml"
    proc, lines = _start_lab(cfg)
    try:
        secret = next(
            line.split('"file:', 1)[1].split('"', 1)[0] for line in lines if '"file:' in line
        )
        lab_dir = Path(secret).parent
        assert lab_dir.is_dir() and lab_dir.name.startswith("ecc-doctor-lab-")
        err = _stop_lab(proc, signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
    assert proc.returncode == 130, err
    assert "every session was closed" in err and "Traceback" not in err
    assert not lab_dir.exists()


def _site(tmp_path: Path, text: str) -> Path:
    site = tmp_path / "site.toml"
    site.write_text('[site]\nname = "t"\n' + text)
    site.chmod(0o600)
    return site


def test_unknown_check_id_in_timeouts_is_config_error_naming_the_key(tmp_path: Path) -> None:
    site = _site(tmp_path, '[timeouts.checks]\n"net.reachability" = 5\n"ecc.event-rountrip" = 60\n')
    result = CliRunner().invoke(cli, ["check", "--all", "--config", str(site)])
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith(
        f'ecc-doctor: {site}: timeouts.checks."ecc.event-rountrip": unknown check (known: '
    )
    assert "ecc.event-roundtrip" in line


def test_timeout_for_a_plugin_or_builtin_check_is_accepted(monkeypatch, tmp_path) -> None:
    async def quick(ctx):
        return ctx.result(Status.PASS, "ok")

    monkeypatch.setitem(CHECKS, "test.quick", _fake_check("quick", quick))
    site = _site(tmp_path, '[timeouts.checks]\n"test.quick" = 5\n"cm.license" = 9\n')
    result = CliRunner().invoke(cli, ["check", "test.quick", "--config", str(site)])
    assert result.exit_code == 0, result.output


def test_missing_env_secret_is_config_error_naming_the_key(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ECCD_NOPE_PW", raising=False)
    site = _site(
        tmp_path, '[cm]\nhost = "127.0.0.1"\nusername = "u"\npassword = "env:ECCD_NOPE_PW"\n'
    )
    result = CliRunner().invoke(cli, ["check", "cm", "--config", str(site)])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"ecc-doctor: {site}:6: cm.password: environment variable ECCD_NOPE_PW is not set"
    ]


def test_unreadable_file_secret_is_config_error_naming_the_key(tmp_path: Path) -> None:
    absent = tmp_path / "aes.secret"
    site = _site(
        tmp_path,
        f'[aes]\nhost = "127.0.0.1"\nusername = "u"\npassword = "file:{absent}"\n',
    )
    result = CliRunner().invoke(cli, ["check", "net", "--config", str(site)])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"ecc-doctor: {site}:6: aes.password: cannot read {absent}: No such file or directory"
    ]


def test_secret_file_that_is_not_text_is_config_error_naming_the_key(tmp_path: Path) -> None:
    binary = tmp_path / "aes.secret"
    binary.write_bytes(b"\xff\xfe\x00pw")
    binary.chmod(0o600)
    site = _site(
        tmp_path,
        f'[aes]\nhost = "127.0.0.1"\nusername = "u"\npassword = "file:{binary}"\n',
    )
    result = CliRunner().invoke(cli, ["check", "net", "--config", str(site)])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"ecc-doctor: {site}:6: aes.password: {binary} is not UTF-8 text"
    ]


def test_secret_values_are_still_read_only_when_used(tmp_path: Path, monkeypatch) -> None:
    """Load checks that the references resolve; a value changed afterwards is what is used."""
    from ecc_doctor.cli import load_site

    secret = tmp_path / "pw"
    secret.write_text("first-value\n")
    secret.chmod(0o600)
    site = _site(tmp_path, f'[cm]\nhost = "h"\nusername = "u"\npassword = "file:{secret}"\n')
    cfg = load_site(site, known_ids=["net.reachability"])
    secret.write_text("second-value\n")
    assert cfg.cm is not None and cfg.cm.password.reveal() == "second-value"


def test_unwritable_report_path_is_found_before_any_check_runs(monkeypatch, tmp_path) -> None:
    ran: list[str] = []

    async def quick(ctx):
        ran.append(ctx.check_id)
        return ctx.result(Status.PASS, "ok")

    monkeypatch.setitem(CHECKS, "test.quick", _fake_check("quick", quick))
    site = _site(tmp_path, "")
    absent = tmp_path / "no-such-dir" / "o.xml"
    result = CliRunner().invoke(
        cli, ["check", "test.quick", "--config", str(site), "--junit", str(absent)]
    )
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"ecc-doctor: --junit {absent}: no such folder {absent.parent}"
    ]
    assert ran == []
    (tmp_path / "adir").mkdir()
    result = CliRunner().invoke(
        cli, ["check", "test.quick", "--config", str(site), "--json", str(tmp_path / "adir")]
    )
    assert result.exit_code == 2 and "is a directory" in result.output and ran == []


def test_failing_json_report_does_not_prevent_the_junit_report(monkeypatch, tmp_path) -> None:
    json_dir = tmp_path / "json-out"
    json_dir.mkdir()

    async def removes_the_json_folder(ctx):  # the folder vanishes while the checks run
        json_dir.rmdir()
        return ctx.result(Status.PASS, "ok")

    monkeypatch.setitem(CHECKS, "test.rm", _fake_check("rm", removes_the_json_folder))
    site = _site(tmp_path, "")
    junit_path = tmp_path / "o.xml"
    args = ["check", "test.rm", "--config", str(site), "--json", str(json_dir / "o.json")]
    result = CliRunner().invoke(cli, [*args, "--junit", str(junit_path)])
    assert result.exit_code == 2, result.output
    assert f"--json {json_dir / 'o.json'}: cannot write:" in result.output
    assert "test.rm" in junit_path.read_text()
