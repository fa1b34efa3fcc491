"""Fixtures: a NOTIFY_SOCKET the test binds, read the way systemd reads it."""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


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


@pytest.fixture
def notify(monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifyReader]:
    """A bound notify socket with $NOTIFY_SOCKET pointing at it (a short path: AF_UNIX
    paths are limited to 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="vk-notify-"))
    reader = NotifyReader(folder / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", str(reader.path))
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    try:
        yield reader
    finally:
        reader.sock.close()
        shutil.rmtree(folder, ignore_errors=True)
