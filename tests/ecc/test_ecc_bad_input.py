"""Bad input and broken plumbing: each a clear one-line ERROR/FAIL, no traceback, no call left up."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from ecc_doctor.checks import ecc_api, ecc_roundtrip
from ecc_doctor.config import from_mapping
from ecc_doctor.lab import Lab
from ecc_doctor.lab.pki import LabCA
from ecc_doctor.models import Status

from .conftest import no_traceback, run_one, with_ecc

pytestmark = pytest.mark.anyio


@pytest.fixture
async def ok_server() -> AsyncIterator[int]:
    """A plain HTTP server answering 200 to anything: a callback URL that is not ours."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.read(65536), 2)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_callback_port_in_use_is_error(ecc_lab: Lab) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = await run_one(ecc_roundtrip, with_ecc(ecc_lab.config, callback_port=port))
    assert result.status is Status.ERROR
    assert result.summary == (
        f"cannot open the ECC event callback on 127.0.0.1:{port}: port already in use by another program"
    )


async def test_callback_never_validated_is_error(ecc_lab: Lab, ok_server: int) -> None:
    config = with_ecc(
        ecc_lab.config,
        callback_url=f"http://127.0.0.1:{ok_server}/elsewhere",
        validation_timeout=0.3,
    )
    result = await run_one(ecc_roundtrip, config)
    assert result.status is Status.ERROR
    assert "validation POST never reached ecc-doctor" in result.summary
    assert "ecc.callback_url" in result.summary
    no_traceback(result)


async def test_unreachable_callback_is_error(ecc_lab: Lab) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: refused
        config = with_ecc(ecc_lab.config, callback_url=f"http://127.0.0.1:{port}/x")
        result = await run_one(ecc_api, config)
    assert result.status is Status.ERROR
    assert (
        "refused the subscription (HTTP 400: callbackUrl invalid or unreachable)" in result.summary
    )
    assert "Breeze must reach that URL" in result.summary


async def test_callback_certificate_not_trusted_by_breeze_is_error(
    ecc_lab: Lab, tmp_path: Path
) -> None:
    cert, key = LabCA(tmp_path, name="rogue CA").issue("callback")
    result = await run_one(ecc_api, with_ecc(ecc_lab.config, callback_cert=cert, callback_key=key))
    assert result.status is Status.ERROR
    assert "could not validate the callback https://127.0.0.1:" in result.summary


async def test_wrong_ca_is_error(ecc_lab: Lab, tmp_path: Path) -> None:
    other = LabCA(tmp_path, name="other CA")
    result = await run_one(ecc_roundtrip, with_ecc(ecc_lab.config, ca_file=other.ca_file))
    assert result.status is Status.ERROR
    assert "TLS certificate not trusted" in result.summary
    assert "check ecc.ca_file" in result.summary


async def test_missing_client_certificate_is_error(ecc_lab: Lab) -> None:
    result = await run_one(ecc_api, with_ecc(ecc_lab.config, client_cert=None, client_key=None))
    assert result.status is Status.ERROR
    assert result.summary.startswith("ECC https://127.0.0.1:")  # the reason, then the request
    assert "set ecc.client_cert and ecc.client_key" in result.summary
    no_traceback(result)


async def test_missing_token_is_explained(ecc_lab: Lab) -> None:
    result = await run_one(ecc_api, with_ecc(ecc_lab.config, token=None))
    assert result.status is Status.ERROR
    assert "401 Unauthorized: no Bearer token configured (ecc.token)" in result.summary
    assert "(Unauthorized: Bearer token missing or invalid)" in result.summary


async def test_token_never_shown(ecc_lab: Lab) -> None:
    await ecc_lab.fault("ecc-auth")
    result = await run_one(ecc_roundtrip, ecc_lab.config)
    token = ecc_lab.config.ecc.token.reveal()
    text = repr(result.to_dict())
    assert result.status is Status.ERROR
    assert token not in text
    assert "Authorization: Bearer" not in text  # headers are never written to the transcript


async def test_non_json_answer_is_error(ecc_lab: Lab) -> None:
    result = await run_one(ecc_roundtrip, with_ecc(ecc_lab.config, ecc_path="/portal/"))
    assert result.status is Status.ERROR
    assert "answered 200 with text/html, not JSON" in result.summary
    no_traceback(result)


async def test_runner_timeout_still_drops_the_call(ecc_lab: Lab) -> None:
    """The runner cancels the check mid-call; cleanup drops the call and the subscription."""
    await ecc_lab.fault("ecc-slow-events")
    result = await run_one(ecc_roundtrip, ecc_lab.config, timeout_override=0.6)
    assert result.status is Status.ERROR
    assert result.summary.startswith("timed out after 0.6 s")
    # the ecc_lab fixture asserts: no active call, no subscription


async def test_unknown_extension_is_error_not_traceback(ecc_lab: Lab) -> None:
    result = await run_one(ecc_roundtrip, with_ecc(ecc_lab.config, extension_b="4999"))
    assert result.status is Status.ERROR
    assert "HTTP 400 ('to' 4999 cannot be reached)" in result.summary


async def test_huge_answer_is_not_read(tmp_path: Path) -> None:
    """A peer that sends megabytes where JSON is expected: bounded read, one-line ERROR."""
    size = 2 * 1024 * 1024

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
            writer.write(head.encode())
            for _ in range(size // 65536):
                writer.write(b" " * 65536)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        config = from_mapping(
            {
                "ecc": {
                    "base_url": f"http://127.0.0.1:{port}",
                    "allow_plain_http": True,
                    "extension_a": "3301",
                }
            },
            source="<test>",
        )
        result = await run_one(ecc_api, config)
    finally:
        server.close()
        await server.wait_closed()
    assert result.status is Status.ERROR
    assert result.summary.endswith("answer larger than 1048576 bytes, not read")


@pytest.mark.parametrize(
    ("key", "make", "expected"),
    [
        ("ca_file", lambda d: d / "nonexistent.pem", "No such file or directory"),
        ("ca_file", lambda d: _write(d / "ca.pem", "not a certificate"), "no PEM CA certificate"),
        ("client_cert", lambda d: d / "nonexistent.pem", "No such file or directory"),
        ("client_cert", lambda d: _write(d / "c.pem", "hello"), "not a PEM certificate"),
        ("client_key", lambda d: _write(d / "k.pem", "hello"), "not a PEM private key"),
    ],
)
async def test_tls_file_errors_name_the_key_and_path(
    ecc_lab: Lab, tmp_path: Path, key: str, make: Callable[[Path], Path], expected: str
) -> None:
    path = make(tmp_path)
    for module in (ecc_api, ecc_roundtrip):
        result = await run_one(module, with_ecc(ecc_lab.config, **{key: path}))
        assert result.status is Status.ERROR, result.summary
        assert result.summary.startswith(f"ecc.{key} {path}: {expected}"), result.summary
        no_traceback(result)


async def test_client_key_of_another_certificate_is_named(ecc_lab: Lab, tmp_path: Path) -> None:
    _, other_key = LabCA(tmp_path, name="other CA").issue("other", client=True)
    result = await run_one(ecc_api, with_ecc(ecc_lab.config, client_key=other_key))
    assert result.status is Status.ERROR
    cert = ecc_lab.config.ecc.client_cert
    assert result.summary.startswith(
        f"ecc.client_key {other_key}: not the key of ecc.client_cert {cert}"
    ), result.summary


async def test_encrypted_client_key_is_named_not_prompted(ecc_lab: Lab, tmp_path: Path) -> None:
    """OpenSSL would ask for the passphrase on the terminal: we say what is wrong instead."""
    plain = serialization.load_pem_private_key(
        Path(ecc_lab.config.ecc.client_key).read_bytes(), password=None
    )
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        plain.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret passphrase"),
        )
    )
    result = await run_one(ecc_api, with_ecc(ecc_lab.config, client_key=encrypted))
    assert result.status is Status.ERROR
    assert result.summary.startswith(f"ecc.client_key {encrypted}: the key is encrypted")


async def test_callback_key_errors_name_the_key_and_path(ecc_lab: Lab, tmp_path: Path) -> None:
    bad = _write(tmp_path / "cb.pem", "hello")
    result = await run_one(ecc_api, with_ecc(ecc_lab.config, callback_cert=bad))
    assert result.status is Status.ERROR
    assert result.summary.startswith(f"ecc.callback_cert {bad}: not a PEM certificate")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
