"""docs/PRESENCE-ARCHIVE.md renders as intended: every section heading is a heading, not code."""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt

DOC = Path(__file__).resolve().parents[2] / "docs" / "PRESENCE-ARCHIVE.md"


def test_code_fences_close_and_every_section_heading_renders() -> None:
    text = DOC.read_text(encoding="utf-8")
    tokens = MarkdownIt().parse(text)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    expected = [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("## ")]
    assert expected and all(h in headings for h in expected), headings
    fences = [t for t in tokens if t.type == "fence"]
    assert all(t.map is not None and t.map[1] - t.map[0] < 30 for t in fences), [
        t.map for t in fences
    ]
    assert "Addresses in the marker match" not in "".join(t.content for t in fences)
