"""Shared fixtures: `pulse`, a private PulseAudio daemon with a virtual mic and speaker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pulse import PulseServer


@pytest.fixture(scope="session")
def pulse() -> Iterator[PulseServer]:
    """One PulseAudio daemon for the session (see tests/pulse.py); stopped by its pid."""
    with PulseServer() as server:
        yield server
