"""The check registry: one literal dict, plus third-party checks from entry points.

A check module exposes ``ID``, ``TITLE``, ``SOURCE`` (the app-note section or article it
verifies), ``NEEDS`` (config sections) and ``async def check(ctx) -> Result | list[Result]``.
Third-party packages register modules under the entry-point group ``ecc_doctor.checks``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from ecc_doctor.checks import (
    aes_dmcc_session,
    aes_dmcc_summary,
    cm_aesvcs_link,
    cm_cti_link,
    cm_cti_link_admin,
    cm_ip_services,
    cm_license,
    cm_ucid,
    ecc_api,
    ecc_roundtrip,
    ecc_trunk,
    mgc_failover,
    presence_archive,
    reachability,
    sip_prack,
    sip_register,
)
from ecc_doctor.errors import ConfigError

if TYPE_CHECKING:
    from ecc_doctor.context import CheckContext
    from ecc_doctor.models import Result

CheckFn = Callable[["CheckContext"], Awaitable["Result | list[Result]"]]

CHECKS: dict[str, ModuleType] = {
    reachability.ID: reachability,
    cm_cti_link.ID: cm_cti_link,
    cm_license.ID: cm_license,
    cm_cti_link_admin.ID: cm_cti_link_admin,
    cm_ucid.ID: cm_ucid,
    cm_ip_services.ID: cm_ip_services,
    cm_aesvcs_link.ID: cm_aesvcs_link,
    aes_dmcc_session.ID: aes_dmcc_session,
    aes_dmcc_summary.ID: aes_dmcc_summary,
    ecc_api.ID: ecc_api,
    ecc_roundtrip.ID: ecc_roundtrip,
    ecc_trunk.ID: ecc_trunk,
    presence_archive.ID: presence_archive,
    sip_register.ID: sip_register,
    sip_prack.ID: sip_prack,
    mgc_failover.ID: mgc_failover,
}

ENTRY_POINT_GROUP = "ecc_doctor.checks"


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its identity and its coroutine function."""

    id: str
    title: str
    source: str
    needs: tuple[str, ...]
    fn: CheckFn
    #: why a third-party check could not be loaded ("" for a check that loaded)
    broken: str = ""

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]


def spec_of(module: ModuleType) -> CheckSpec:
    """Read a check module's contract; ConfigError if it does not follow it."""
    try:
        return CheckSpec(
            id=str(module.ID),
            title=str(module.TITLE),
            source=str(module.SOURCE),
            needs=tuple(module.NEEDS),
            fn=module.check,
        )
    except AttributeError as exc:
        raise ConfigError(
            f"check module {module.__name__} lacks {exc.name} (needs ID, TITLE, SOURCE, NEEDS, check)"
        ) from exc


#: the id prefix of a plugin that failed to load: ``plugin:<entry point name>``
BROKEN_PREFIX = "plugin:"


def broken_spec(name: str, value: str, why: str) -> CheckSpec:
    """A check standing in for the entry point *name* (*value*: its ``module``) that could
    not be loaded: listed as broken, and in a run one ERROR result saying why. One broken
    plugin (a ``pip install -U`` gone wrong) does not stop the other checks."""
    reason = f"check plugin {name!r} ({value}) failed to load: {why}"

    async def check(ctx: CheckContext) -> Result:
        from ecc_doctor.models import Status

        return ctx.result(Status.ERROR, reason)

    return CheckSpec(
        id=f"{BROKEN_PREFIX}{name}",
        title=f"broken: {reason}",
        source=value,
        needs=(),
        fn=check,
        broken=reason,
    )


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _plugins() -> list[CheckSpec]:
    """The third-party checks, sorted by id; one that fails to load is a broken_spec."""
    found: dict[str, CheckSpec] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            module = ep.load()
            if not isinstance(module, ModuleType):
                raise ConfigError("it is not a module")
            spec = spec_of(module)
        except ConfigError as exc:
            spec = broken_spec(ep.name, ep.value, exc.message)
        except Exception as exc:  # whatever the plugin's import raised
            spec = broken_spec(ep.name, ep.value, _one_line(exc))
        if spec.id not in CHECKS:
            found.setdefault(spec.id, spec)
    return [found[k] for k in sorted(found)]


def all_checks() -> list[CheckSpec]:
    """Every check: built-ins first (registry order), then plugins sorted by id (a plugin
    that failed to load is there too, as a check whose run is one ERROR: see broken_spec)."""
    return [spec_of(m) for m in CHECKS.values()] + _plugins()


def select(ids: list[str], specs: list[CheckSpec]) -> list[CheckSpec]:
    """The checks named by *ids* (an id, or an area prefix like ``cm``), in registry order."""
    by_id = {s.id: s for s in specs}
    chosen: set[str] = set()
    for wanted in ids:
        matches = [s.id for s in specs if s.id == wanted or s.area == wanted]
        if not matches:
            known = ", ".join(by_id)
            raise ConfigError(f"unknown check {wanted!r} (known: {known})")
        chosen.update(matches)
    return [s for s in specs if s.id in chosen]
