"""The service manager's end of $NOTIFY_SOCKET, read the way systemd reads it (the `notify`
fixture in tests/systemd/conftest.py binds one and points $NOTIFY_SOCKET at it).

    reader = NotifyReader(folder / "notify")
    [ready] = await reader.wait_for("READY")
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path


class NotifyReader:
    """The service manager's end of $NOTIFY_SOCKET: an AF_UNIX datagram socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)

    def drain(self) -> list[dict[str, str]]:
        """Every message sent so far (a send is delivered when notify() returns)."""
        out: list[dict[str, str]] = []
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return out
            out.append(parse(data))

    async def next(self, timeout_s: float = 5.0) -> dict[str, str]:
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(self.sock, 4096), timeout_s)
        return parse(data)

    async def wait_for(self, key: str, count: int = 1, timeout_s: float = 5.0) -> list[dict]:
        """Messages up to and including the ``count``-th that carries ``key``."""
        seen: list[dict[str, str]] = []
        while sum(key in m for m in seen) < count:
            seen.append(await self.next(timeout_s))
        return seen


def parse(data: bytes) -> dict[str, str]:
    """``b"READY=1\\nSTATUS=x"`` -> ``{"READY": "1", "STATUS": "x"}``."""
    fields = {}
    for line in data.decode().split("\n"):
        key, _, value = line.partition("=")
        fields[key] = value
    return fields
