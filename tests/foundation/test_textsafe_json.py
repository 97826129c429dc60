"""textsafe.json_document: the analyze JSON writer (C encoder for the bulk lists)."""

from __future__ import annotations

import json

from ecc_doctor.textsafe import json_document, json_text, no_surrogates


def test_items_of_named_lists_are_one_line_each_and_the_rest_indented() -> None:
    doc = {
        "schema": "x",
        "summary": {"total": 2, "by": {"PASS": 2}},
        "flows": [{"kind": "invite", "findings": [{"rule": "a", "frames": [1, 2]}]}, {"k": 2}],
        "empty": [],
    }
    text = json_document(doc, one_per_line=("flows",))
    assert json.loads(text) == doc
    lines = text.splitlines()
    assert '    {"kind": "invite", "findings": [{"rule": "a", "frames": [1, 2]}]},' in lines
    assert '    {"k": 2}' in lines
    assert '  "summary": {' in lines and '    "total": 2,' in lines
    assert '  "empty": []' in lines
    assert text.endswith("}\n")


def test_the_same_document_as_json_dumps_for_every_value() -> None:
    doc = {"a": [1, "two", None, 3.5, True], "flows": [{"x": {"y": []}}], "b": {}}
    assert json.loads(json_document(doc, one_per_line=("flows",))) == doc
    assert json.loads(json_document({})) == {}


def test_terminal_controls_and_lone_surrogates_are_escaped_in_every_part() -> None:
    hostile = "caf\udce9 \ud800 \x9b2J \u202e"
    doc = {"file": hostile, "flows": [{hostile: hostile}]}
    text = json_document(doc, one_per_line=("flows",))
    text.encode("utf-8")  # no lone surrogate is left to fail the write
    assert "\x9b" not in text and "\u202e" not in text
    back = json.loads(text)
    shown = "caf\\xe9 \\ud800 \x9b2J \u202e"  # no_surrogates() text; C1/bidi as \u escapes
    assert back == {"file": shown, "flows": [{shown: shown}]}
    assert no_surrogates(hostile) == shown


def test_json_text_leaves_plain_text_alone() -> None:
    plain = json.dumps({"a": "b é ✓"}, ensure_ascii=False)
    assert json_text(plain) is plain


def test_keys_that_are_not_strings_are_written_as_json_dumps_writes_them() -> None:
    doc = {1: "a", None: 2, False: [1], 2.5: {}}  # review s7 #7
    assert json.loads(json_document(doc)) == json.loads(json.dumps(doc))
