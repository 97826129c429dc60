"""The timeline SVG: valid XML, one lane per controller, attempts, labelled timer lines."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.conftest import FIXTURES

from ecc_doctor.captures.mgc import build_timeline, load_params
from ecc_doctor.captures.mgc.svg import render_svg

NS = {"s": "http://www.w3.org/2000/svg"}


def _article_svg() -> ET.Element:
    params = load_params(config_path=FIXTURES / "mgc" / "site.toml")
    return ET.fromstring(render_svg(build_timeline(params)).encode())


def test_article_svg_lanes_marks_and_expiries() -> None:
    root = _article_svg()
    texts = ["".join(t.itertext()) for t in root.iter(f"{{{NS['s']}}}text")]
    for lane in ("1. PE", "2. CLAN", "3. ESS", "4. LSP"):
        assert lane in texts
    marks = root.findall(".//s:circle[@data-offset]", NS)
    assert len(marks) == 90
    above = [m for m in marks if "above" in m.get("class", "")]
    below = [m for m in marks if "below" in m.get("class", "")]
    assert all(float(m.get("data-offset", "0")) < 600 or m in above for m in marks[:60])
    assert {m.get("data-target") for m in marks if float(m.get("data-offset", "0")) < 600} == {
        "192.0.2.10",
        "192.0.2.11",
    }
    assert min(float(m.get("data-offset", "0")) for m in below) == 600.0
    lines = {
        ln.get("data-event"): float(ln.get("data-offset", "0"))
        for ln in root.findall(".//s:line[@class='expiry']", NS)
    }
    assert lines["primary-search"] == 600.0
    assert lines["total-search"] == 900.0
    assert any(t.startswith("primary-search expires (10 min)") for t in texts)
    assert any("total-search expires (15 min) → reset" in t for t in texts)
    assert root.findall(".//s:line[@class='transition-point']", NS)


def test_svg_with_observed_attempts_is_valid_xml() -> None:
    params = load_params(config_path=FIXTURES / "mgc" / "site.toml")
    svg = render_svg(
        build_timeline(params), title="a <b> & c", observed=[(0.0, "192.0.2.10", True)]
    )
    root = ET.fromstring(svg.encode())
    assert root.findall(".//s:path[@class='observed-attempt']", NS)
    assert "a <b> & c" in "".join(root.find("s:title", NS).itertext())  # type: ignore[union-attr]


def test_legend_with_observed_marks_wraps_inside_the_canvas() -> None:
    """Every legend entry fits: 11 px text is estimated at 6.2 px a character (system-ui)."""
    params = load_params(config_path=FIXTURES / "mgc" / "site.toml")
    svg = render_svg(build_timeline(params), observed=[(0.0, "192.0.2.10", False)])
    root = ET.fromstring(svg.encode())
    width, height = float(root.get("width", "0")), float(root.get("height", "0"))
    legend = root.find("s:g[@class='legend']", NS)
    assert legend is not None
    texts = legend.findall("s:text", NS)
    labels = ["".join(t.itertext()) for t in texts]
    assert "seen, breaks a rule" in labels and "seen in capture" in labels
    for t, label in zip(texts, labels, strict=True):
        assert float(t.get("x", "0")) + 6.2 * len(label) <= width - 8, label
        assert float(t.get("y", "0")) <= height - 8, label
    assert len({t.get("y") for t in texts}) == 2  # two rows
