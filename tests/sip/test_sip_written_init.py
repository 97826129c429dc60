"""The hot dataclasses write their ``__init__`` out, and it must be the one the dataclass
decorator would make.

SipMsg (one per message) and the per-call and per-registration state classes are
``@dataclass(init=False)`` with a hand-written ``__init__``: the generated one is Python
made at import, which the compiled build cannot compile (message.SipMsg explains). A field
added to the class but not to its ``__init__``, a default that differs, or a mutable
default shared between instances would change the analysis (and _unpack builds these
classes positionally from their field values), so each is checked against the fields.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import MISSING, fields
from typing import Any

import pytest

from ecc_doctor.captures.sip.common import FlowDraft
from ecc_doctor.captures.sip.message import SipMsg
from ecc_doctor.captures.sip.prack import CallState, EarlyDialog, InviteTxn, PrackTxn, Reliable
from ecc_doctor.captures.sip.register import Attempt, RegState

#: These tests read the Python source's ``__init__`` (its signature, and objects of any type as
#: arguments); compiled by mypyc (the suite run against an installed wheel), a class has a
#: native ``__init__`` with no Python signature that checks argument types. The compiled
#: build is compared with the source by tests/sip/test_compiled_build.py instead.
pytestmark = pytest.mark.skipif(
    not all(
        str(getattr(sys.modules[cls.__module__], "__file__", "")).endswith(".py")
        for cls in (SipMsg, FlowDraft, CallState, RegState)
    ),
    reason="the classes are compiled (mypyc): they have no Python __init__ to read",
)

WRITTEN = [
    SipMsg,
    FlowDraft,
    Reliable,
    EarlyDialog,
    InviteTxn,
    PrackTxn,
    CallState,
    Attempt,
    RegState,
]


@pytest.mark.parametrize("cls", WRITTEN, ids=lambda c: c.__name__)
def test_written_init_takes_the_fields_in_order_with_their_defaults(cls: type) -> None:
    assert "__init__" in vars(cls)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # without self
    assert [p.name for p in params] == [f.name for f in fields(cls)]
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)
    for param, f in zip(params, fields(cls), strict=True):
        if f.default is not MISSING:
            assert param.default == f.default, f.name
        elif f.default_factory is not MISSING:
            assert param.default is None, f.name  # a fresh container per instance
        else:
            assert param.default is inspect.Parameter.empty, f.name


@pytest.mark.parametrize("cls", WRITTEN, ids=lambda c: c.__name__)
def test_written_init_sets_every_field(cls: type) -> None:
    required = [f for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    args = [object() for _ in required]
    one: Any = cls(*args)
    two: Any = cls(*args)
    for f, arg in zip(required, args, strict=True):
        assert getattr(one, f.name) is arg
    for f in fields(cls):
        if f.default is not MISSING:
            assert getattr(one, f.name) == f.default, f.name
        elif f.default_factory is not MISSING:
            value = getattr(one, f.name)
            assert value == f.default_factory() and type(value) is type(f.default_factory())
            assert value is not getattr(two, f.name), f"{f.name} shared between instances"
    # every field given, by keyword: each lands in its own slot
    given = {f.name: object() for f in fields(cls)}
    three: Any = cls(**given)
    assert all(getattr(three, name) is value for name, value in given.items())
    # and positionally, as _unpack and reduce_fields rebuild them
    four: Any = cls(*given.values())
    assert all(getattr(four, name) is value for name, value in given.items())
