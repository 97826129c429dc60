"""An in-test asyncssh SFTP server on 127.0.0.1 and the [sftp] section that reaches it.

The hostile and scripted server tests give their own SSH server class and SFTP handler; this
starts the listener with a fresh host key, writes known_hosts and the password file, and
closes the listener afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncssh


@asynccontextmanager
async def sftp_server(
    tmp_path: Path,
    password: str,
    server_factory: Callable[[], asyncssh.SSHServer],
    sftp_factory: Callable[[asyncssh.SSHServerChannel[bytes]], asyncssh.SFTPServer],
) -> AsyncIterator[dict[str, Any]]:
    key = asyncssh.generate_private_key("ssh-ed25519")
    acceptor = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_factory=server_factory,
        server_host_keys=[key],
        sftp_factory=sftp_factory,
    )
    port = acceptor.sockets[0].getsockname()[1]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {key.export_public_key().decode()}")
    secret = tmp_path / "pw"
    secret.write_text(password + "\n")
    try:
        yield {
            "host": "127.0.0.1",
            "port": port,
            "username": "u",
            "password": f"file:{secret}",
            "known_hosts": str(known_hosts),
            "path": "/archive",
        }
    finally:
        acceptor.close()
        await acceptor.wait_closed()
