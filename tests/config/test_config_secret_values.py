"""A secret written wrongly in the site file is never echoed (QA 4a F3), and every secret of
the site file is masked from the moment it loads (F10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecc_doctor.config import check_secret_references, load
from ecc_doctor.errors import ConfigError
from ecc_doctor.secrets import redact


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("987654321123", "a number"),
        ('["ListSecret-4343"]', "a list"),
        ('{ value = "InlineSecret-4747" }', "a table"),
    ],
)
def test_a_password_without_quotes_is_not_echoed(tmp_path: Path, written: str, kind: str) -> None:
    site = tmp_path / "site.toml"
    site.write_text(f'[cm]\nhost = "127.0.0.1"\nusername = "u"\npassword = {written}\n')
    with pytest.raises(ConfigError) as info:
        load(site)
    message = info.value.message
    assert "cm.password: expected a secret reference" in message
    assert message.endswith(f"got {kind} (value not shown)"), message
    for secret in ("987654321123", "ListSecret-4343", "InlineSecret-4747"):
        assert secret not in message


def test_a_secret_of_the_site_file_is_masked_once_loaded(tmp_path: Path) -> None:
    secret = tmp_path / "cm.secret"
    secret.write_text("Unused-Secret-9191\n")
    secret.chmod(0o600)
    site = tmp_path / "site.toml"
    site.write_text('[cm]\nhost = "127.0.0.1"\nusername = "u"\npassword = "file:cm.secret"\n')
    known = tmp_path / "kh"
    known.touch()
    site.write_text(site.read_text() + f'known_hosts = "{known}"\n')
    check_secret_references(load(site))  # what every command does with its site file
    # not revealed by any check yet: a peer echoing it (a file name) is masked all the same
    assert "Unused-Secret-9191" not in redact("im_xUnused-Secret-9191.xml")
