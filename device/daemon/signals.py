"""The daemon's signals: SIGTERM and SIGINT stop it, SIGUSR1 starts a conversation (a talk
button wired to a script), SIGUSR2 mutes and unmutes the microphone."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2)


def install_signals(
    loop: asyncio.AbstractEventLoop,
    *,
    stop: Callable[[], None],
    start: Callable[[], None],
    toggle_mute: Callable[[], None],
) -> None:
    """Handlers on the loop (not in a thread); none where the loop cannot take them (a
    loop outside the main thread: tests)."""
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, stop)
        loop.add_signal_handler(signal.SIGINT, stop)
        loop.add_signal_handler(signal.SIGUSR1, start)
        loop.add_signal_handler(signal.SIGUSR2, toggle_mute)


def remove_signals(loop: asyncio.AbstractEventLoop) -> None:
    for sig in SIGNALS:
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(sig)
