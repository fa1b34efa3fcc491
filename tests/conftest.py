"""Shared fixtures (`pulse`, a private PulseAudio daemon with a virtual mic and speaker), and
which tests are slow.

Shared helpers that are not fixtures are in the tests/helpers/ package. ``pytest -m "not
slow"`` skips the tests marked ``slow`` (registered in pyproject.toml): a test module marks
its own slow tests (``pytestmark = pytest.mark.slow``, or per test); the rules below mark
the rest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pulse import PulseServer

# Slow modules and tests whose owners have not marked them yet: a module's path from the
# repository root, or a test's node id (parameters left off)
NOT_MARKED_YET_SLOW = frozenset(
    {
        "tests/vad/test_barge_in_pulse.py",  # the PulseAudio echo rig (also: `pulse`)
        "tests/vad/test_daemon_echo.py",  # the daemon on the echo rig (also: `pulse`)
        "tests/test_check_config_fuzz.py",  # mutated configs by the hundred
        "tests/test_config_anywhere.py::"
        "test_the_daemon_serves_from_a_five_line_config_in_a_fresh_folder",  # the daemon
    }
)


@pytest.fixture(scope="session")
def pulse() -> Iterator[PulseServer]:
    """One PulseAudio daemon for the session (see tests/pulse.py); stopped by its pid."""
    with PulseServer() as server:
        yield server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test on the PulseAudio rig (it uses the `pulse` fixture) is slow: it plays and
    records in real time. So is every test `NOT_MARKED_YET_SLOW` names, or of a module it
    names."""
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        test = item.nodeid.split("[", 1)[0]
        on_rig = "pulse" in getattr(item, "fixturenames", ())
        if on_rig or module in NOT_MARKED_YET_SLOW or test in NOT_MARKED_YET_SLOW:
            item.add_marker(pytest.mark.slow)
