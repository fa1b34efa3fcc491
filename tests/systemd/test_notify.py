"""The notify protocol as data: STATUS= texts per state, messages, the watchdog interval."""

from __future__ import annotations

import datetime as dt

import pytest

from device.conversation.state import State
from device.systemd.notify import (
    STATUS_MAX_CHARS,
    duration_text,
    message,
    phrase,
    status_text,
    waiting_text,
    watchdog_interval_s,
)

MIN = 60_000.0


@pytest.mark.parametrize(
    ("state", "kwargs", "text"),
    [
        (State.IDLE, {"ready": False}, "starting: opening audio, loading models, connecting"),
        (State.IDLE, {"wake_phrases": ("hey_jarvis",)}, "listening for 'hey jarvis'"),
        (State.IDLE, {}, "waiting for the button"),
        (State.IDLE, {"muted": True, "wake_phrases": ("hey_jarvis",)}, "muted"),
        (State.OFFLINE, {"muted": True}, "muted"),
        (
            State.LISTENING,
            {"conversation_since_ms": 0.0, "now_ms": 2 * MIN + 5_000},
            "in a conversation (2 min): listening",
        ),
        (
            State.SPEAKING,
            {"conversation_since_ms": 1_000.0, "now_ms": 30_000.0},
            "in a conversation (under a minute): speaking",
        ),
        (State.TOOL, {}, "in a conversation: running a tool"),
        (State.HANDOVER, {}, "in a conversation: handing over to staff"),
        (
            State.RECONNECTING,
            {"conversation_since_ms": 0.0, "now_ms": 61 * MIN},
            "in a conversation (1 h 1 min): reconnecting",
        ),
        (State.OFFLINE, {"offline_since": dt.time(10, 42, 31)}, "offline since 10:42, retrying"),
        (State.OFFLINE, {}, "offline, retrying"),
        (State.ERROR, {"error": "invalid_api_key"}, "stopped by an error: invalid_api_key"),
        (State.ERROR, {}, "stopped by an error"),
    ],
)
def test_status_text_per_state(state: State, kwargs: dict, text: str) -> None:
    kwargs.setdefault("now_ms", 0.0)
    assert status_text(state, **kwargs) == text


def test_status_text_is_one_clipped_line() -> None:
    text = status_text(State.ERROR, now_ms=0, error="bad\nkey " + "x" * 500)
    assert "\n" not in text
    assert len(text) == STATUS_MAX_CHARS
    assert text.endswith("…")


@pytest.mark.parametrize(
    ("label", "words"),
    [("hey_jarvis", "hey jarvis"), ("hey_jarvis_v0.1", "hey jarvis"), ("alexa", "alexa")],
)
def test_phrase_in_words(label: str, words: str) -> None:
    assert phrase(label) == words


def test_waiting_text_names_every_phrase() -> None:
    assert waiting_text(["hey_jarvis", "alexa_v0.1", "timer"]) == (
        "listening for 'hey jarvis', 'alexa' or 'timer'"
    )


def test_duration_text_changes_once_a_minute() -> None:
    assert duration_text(-5) == "under a minute"
    assert duration_text(59_999) == "under a minute"
    assert duration_text(60_000) == duration_text(119_999) == "1 min"


def test_message_lines() -> None:
    assert message(ready=True, status="x") == "READY=1\nSTATUS=x"
    assert message(watchdog=True) == "WATCHDOG=1"
    assert message(stopping=True, status="a\nb") == "STOPPING=1\nSTATUS=a b"
    assert message(extra={"ERRNO": "5"}) == "ERRNO=5"


@pytest.mark.parametrize(
    ("environ", "interval"),
    [
        ({"WATCHDOG_USEC": "15000000"}, 7.5),
        ({"WATCHDOG_USEC": "15000000", "WATCHDOG_PID": "42"}, 7.5),
        ({"WATCHDOG_USEC": "15000000", "WATCHDOG_PID": "7"}, None),  # meant for another pid
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_half_watchdog_usec(environ: dict, interval: float | None) -> None:
    assert watchdog_interval_s(environ, pid=42) == interval
