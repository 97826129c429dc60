"""aes.dmcc-session: a real DMCC application session opens and closes with the CTI user."""

from __future__ import annotations

from ecc_doctor.config.aes import AesConfig
from ecc_doctor.context import CheckContext
from ecc_doctor.errors import AuthError
from ecc_doctor.models import Evidence, Result, Status
from ecc_doctor.probes.dmcc import DmccSession, SessionRefused, release_of, resolve_version

ID = "aes.dmcc-session"
TITLE = "A DMCC application session opens and closes with the CTI user"
SOURCE = "ECC app note 6.7/9.2"
NEEDS: tuple[str, ...] = ("aes",)


def _where(cfg: AesConfig) -> str:
    return f"{cfg.host}:{cfg.dmcc_port} ({'TLS' if cfg.dmcc_tls else 'plain'})"


async def check(ctx: CheckContext) -> Result:
    cfg: AesConfig = ctx.section("aes")
    transcript = ctx.transcript(f"DMCC {_where(cfg)}")
    io_timeout = max(1.0, min(10.0, ctx.remaining() / 3))
    session = DmccSession(
        cfg, transcript, connect_timeout=ctx.connect_timeout, io_timeout=io_timeout
    )
    try:
        async with session:
            info = session.info
            assert info is not None
            keepalive = await session.reset_timer()
    except AuthError as exc:
        return ctx.result(
            Status.FAIL,
            f"AES refused the CTI user {cfg.username} (invalidApplicationInfo)",
            details=[exc.message, "check the user's password and CTI rights (app note 6.5/6.6)"],
        )
    except SessionRefused as exc:
        if not exc.capacity:
            raise
        return ctx.result(
            Status.WARN,
            f"AES refused a DMCC session for {cfg.username}: {exc.reason} "
            f"(DMCC licenses or sessions exhausted?)",
            details=[exc.message, "check WebLM licenses and the DMCC Service Summary (6.2, 9.2)"],
        )
    return _verdict(ctx, cfg, session, keepalive)


def _verdict(ctx: CheckContext, cfg: AesConfig, session: DmccSession, keepalive: int) -> Result:
    info = session.last_info
    assert info is not None
    release = release_of(info.protocol_version)
    offered = [resolve_version(v) for v in cfg.protocol_versions]
    metrics = {
        "open_ms": round(info.open_s * 1000, 3),
        "session_duration_s": float(info.duration_s),
        "keepalive_duration_s": float(keepalive),
    }
    table = Evidence.table(
        "DMCC application session",
        ("item", "value"),
        [
            ("AES", _where(cfg)),
            ("CTI user", cfg.username),
            ("session ID", info.session_id),
            ("protocol version", f"{info.protocol_version} (AES {release})"),
            ("session duration", f"{info.duration_s} s (requested {cfg.session_duration_s} s)"),
            ("keepalive granted", f"{keepalive} s"),
            ("stopped", session.stop_problem or "yes"),
        ],
    )
    problems = []
    if info.protocol_version not in offered:
        problems.append(f"AES chose protocol {info.protocol_version}, which we did not offer")
    if session.stop_problem:
        problems.append(
            f"the session did not stop cleanly ({session.stop_problem}); AES keeps it for "
            f"{cfg.cleanup_delay_s} s"
        )
    if problems:
        return ctx.result(
            Status.WARN, problems[0], details=problems, metrics=metrics, evidence=[table]
        )
    summary = (
        f"DMCC session opened and closed as {cfg.username} on {_where(cfg)}: protocol AES "
        f"{release}, duration {info.duration_s} s"
    )
    return ctx.result(Status.PASS, summary, metrics=metrics, evidence=[table])
