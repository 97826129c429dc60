"""`check`'s table is a record one can hand over (QA 4b #4): tool version, site, time and site
file above it; which checks were not verified below it; and --no-skip for a sign-off where
every selected check must run."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from ecc_doctor import __version__
from ecc_doctor.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


def _site(tmp_path: Path) -> Path:
    path = tmp_path / "site.toml"
    path.write_text('[site]\nname = "ACME HQ"\n[net]\nextra = ["lo=127.0.0.1:9"]\n')
    return path


def test_the_table_says_which_tool_site_time_and_file(tmp_path: Path) -> None:
    site = _site(tmp_path)
    code, out, _ = run("check", "net.reachability", "presence", "--config", str(site))
    first = out.splitlines()[0]
    assert re.fullmatch(
        rf"ecc-doctor {re.escape(__version__)} · ACME HQ · \d{{4}}-\d\d-\d\d \d\d:\d\d UTC · "
        + re.escape(str(site)),
        first,
    ), first
    # the refused port FAILs; presence has no [sftp] section: it is named as not verified
    assert code == 1 and out.rstrip().splitlines()[-1] == "not verified (SKIP): presence.im-archive"


def test_no_skip_makes_a_check_that_could_not_run_an_error_everywhere(tmp_path: Path) -> None:
    site = _site(tmp_path)
    report = tmp_path / "r.json"
    code, out, _ = run(
        "check", "presence", "--config", str(site), "--no-skip", "--json", str(report)
    )
    doc = json.loads(report.read_text())
    (result,) = doc["results"]
    assert code == 1 and doc["summary"]["exit_code"] == 1 and doc["summary"]["SKIP"] == 0
    assert result["status"] == "ERROR"
    assert result["summary"].startswith("not verified (--no-skip): not configured: no [sftp]")
    # without it: SKIP, exit 0, and stderr says nothing was verified
    code, _, err = run("check", "presence", "--config", str(site))
    assert code == 0 and "nothing was verified" in err
