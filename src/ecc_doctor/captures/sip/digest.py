"""HTTP Digest verification for SIP (RFC 3261 §22.4, RFC 2617 §3.2.2, RFC 8760 for SHA-256).

Given an Authorization / Proxy-Authorization value, the request method (and body for
``auth-int``) and a password, :func:`verify` says whether the ``response`` matches. Passwords
come from a ``user:password`` file (:func:`load_passwords`) and are never printed.
"""

from __future__ import annotations

import errno
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ecc_doctor.captures.sip.message import Challenge, SipMsg, parse_auth
from ecc_doctor.errors import ConfigError
from ecc_doctor.models import Status
from ecc_doctor.secrets import remember

_HASHES = {
    "md5": "md5",
    "sha-256": "sha256",
    "sha-512-256": "sha512_256",
}


@dataclass(frozen=True)
class DigestCheck:
    """The outcome of one verification: ``ok`` None when it could not be computed."""

    ok: bool | None
    reason: str = ""


def _hasher(algorithm: str) -> tuple[str, bool] | None:
    algo = (algorithm or "MD5").strip().lower()
    sess = algo.endswith("-sess")
    name = _HASHES.get(algo.removesuffix("-sess"))
    if name is None:
        return None
    return name, sess


def _h(name: str, text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.new(name, data).hexdigest()


def expected_response(auth: Challenge, method: str, password: str, body: bytes = b"") -> str | None:
    """The digest ``response`` a client knowing *password* would send (None: unsupported)."""
    algo = _hasher(auth.get("algorithm"))
    if algo is None:
        return None
    name, sess = algo
    user, realm, nonce = auth.get("username"), auth.get("realm"), auth.get("nonce")
    uri = auth.get("uri")
    qop = auth.get("qop").lower()
    nc, cnonce = auth.get("nc"), auth.get("cnonce")
    ha1 = _h(name, f"{user}:{realm}:{password}")
    if sess:
        ha1 = _h(name, f"{ha1}:{nonce}:{cnonce}")
    if qop == "auth-int":
        ha2 = _h(name, f"{method}:{uri}:{_h(name, body)}")
    else:
        ha2 = _h(name, f"{method}:{uri}")
    if qop in ("auth", "auth-int"):
        return _h(name, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    if qop:
        return None
    return _h(name, f"{ha1}:{nonce}:{ha2}")


def verify(
    auth: Challenge, method: str, passwords: Mapping[str, str], body: bytes = b""
) -> DigestCheck:
    """Check *auth* (an Authorization value) against the password of its user."""
    if auth.scheme.lower() != "digest":
        return DigestCheck(None, f"scheme {auth.scheme!r} is not Digest")
    user = auth.get("username")
    if user not in passwords:
        return DigestCheck(None, f"no password for user {user!r} in the password file")
    if not auth.get("response"):
        return DigestCheck(None, "Authorization has no response parameter")
    want = expected_response(auth, method, passwords[user], body)
    if want is None:
        algo = auth.get("algorithm") or "MD5"
        return DigestCheck(None, f"algorithm {algo} / qop {auth.get('qop')!r} not supported")
    if want.lower() == auth.get("response").strip().lower():
        return DigestCheck(True, f"digest response matches the password for user {user}")
    return DigestCheck(
        False, f"digest response does not match the password for user {user}: wrong password"
    )


def verdict_on_mismatch(
    mismatch: DigestCheck, user: str, answer: SipMsg | None, server: str
) -> tuple[Status, str]:
    """Severity and text for a digest response that does not match the password file
    (*mismatch*, from :func:`verify`), given the final response *answer* to that request
    (None: none was seen). A *server* (``"the registrar"``) that accepted the request knows
    a password the file does not: the file is out of date (WARN). One that refused it, or
    no answer, leaves the verdict "wrong password" (FAIL).

    Accepted means a 2xx, or a 401/407 with ``stale=true``: a server sends that only for a
    request whose digest was valid but whose nonce had expired (RFC 2617 §3.2.1)."""
    if answer is not None:
        status = answer.status
        stale = False
        if status in (401, 407):
            header = "www-authenticate" if status == 401 else "proxy-authenticate"
            stale = parse_auth(answer.first(header)).get("stale").lower() == "true"
        if 200 <= status < 300 or stale:
            how = f"{status} {answer.reason}" + (" with stale=true" if stale else "")
            return Status.WARN, (
                f"digest response of user {user} does not match the password file although "
                f"{server} accepted it ({how}, f{answer.frame}): the password file may be "
                "out of date"
            )
    return Status.FAIL, mismatch.reason


def load_passwords(path: Path) -> dict[str, str]:
    """Read ``user:password`` lines (``#`` comments and blank lines ignored)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read password file {path}: {_why(exc)}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read password file {path}: it is not UTF-8 text") from exc
    out: dict[str, str] = {}
    first: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user:
            raise ConfigError(f"{path}: line {n}: expected 'user:password'")
        remember(password)
        if user in first:  # which one is right? the verdicts would rest on a guess
            raise ConfigError(f"{path}: line {n}: user {user} listed twice (line {first[user]})")
        first[user] = n
        out[user] = password
    return out


def _why(exc: OSError) -> str:
    """Why a file could not be read, in the words the rest of the tool uses."""
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno == errno.EISDIR:
        return "it is a folder, not a file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return (exc.strerror or "an operating-system error").lower()
