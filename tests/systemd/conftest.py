"""Fixtures: a NOTIFY_SOCKET the test binds, read the way systemd reads it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.systemd import NotifyReader


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
