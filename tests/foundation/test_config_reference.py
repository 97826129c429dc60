"""docs/CONFIGURATION.md is generated from the code and must be current."""

from pathlib import Path

from ecc_doctor.config.reference import markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "CONFIGURATION.md"


def test_configuration_reference_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == markdown(), (
        "regenerate: python -m ecc_doctor.config.reference > docs/CONFIGURATION.md"
    )
