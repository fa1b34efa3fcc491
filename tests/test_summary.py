"""The sinks: run summary, timeline and log; what an operator reads after a run."""

from __future__ import annotations

import io
import json
import logging

import pytest

from device.conversation import State
from device.conversation.reports import (
    CallerSaid,
    ConversationEnded,
    ErrorReported,
    ReplyPaused,
    Report,
    StateChanged,
    ToolReported,
)
from device.services.host import ServiceHost
from device.services.sinks import LogSink
from device.services.summary import RunSummary, TimelineSink, timeline_line


def tool_report(arguments: str, output: str = "done") -> ToolReported:
    return ToolReported("job_status", arguments, True, 12.3, output, "continue")


def test_tool_arguments_are_an_object_with_secrets_masked() -> None:
    summary = RunSummary()
    summary.add(tool_report('{"job_id": "4172", "access_token": "s3cr3t-value"}'))
    summary.add(tool_report("{not json"))
    calls = json.loads(json.dumps(summary.to_json()))["tool_calls"]
    assert calls[0]["arguments"] == {"job_id": "4172", "access_token": "***"}
    assert calls[1]["arguments"] == "{not json"
    line = timeline_line(1500, tool_report('{"password": "hunter2"}'))
    assert line == '   1.50s  tool   job_status({"password": "***"}) ok in 12 ms'


def test_hang_up_time_is_kept_and_shown() -> None:
    summary = RunSummary()
    end = ConversationEnded("the caller said goodbye", 612.4)
    summary.add(end)
    summary.add(ConversationEnded("nobody spoke"))
    assert summary.hangup_ms == [612.4] and summary.conversations == 2
    assert timeline_line(0, end) == (
        "   0.00s  end    conversation over: the caller said goodbye "
        "(hung up 612 ms after the model's call)"
    )


def test_a_pause_that_went_on_is_kept_and_shown() -> None:
    summary = RunSummary()
    summary.add(ReplyPaused(128.04, False))
    summary.add(ReplyPaused(256.0, True))
    assert summary.to_json()["reply_pause_ms"] == [128.0, 256.0]
    assert timeline_line(2500, ReplyPaused(128.04, False)) == (
        "   2.50s  pause  reply paused 128 ms on a suspected caller, went on (the sound ended)"
    )
    assert timeline_line(0, ReplyPaused(256.0, True)).endswith(  # type: ignore[union-attr]
        "went on (not confirmed within hold_ms)"
    )


def test_text_from_outside_stays_on_one_line_and_is_capped() -> None:
    out = io.StringIO()
    sink = TimelineSink(out)
    sink.report(100, CallerSaid("hours?\n  10.00s  state  idle -> speaking\r\x1b[2J"))
    sink.report(200, ErrorReported("server_error", "x" * 5000))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0] == '   0.10s  caller "hours?\\n  10.00s  state  idle -> speaking\\r\\u001b[2J"'
    assert len(lines[1]) < 400 and lines[1].endswith("(4700 more chars)")


def test_a_flood_of_one_error_is_one_line_with_a_count() -> None:
    out = io.StringIO()
    sink = TimelineSink(out)
    for n in range(2000):
        sink.report(float(n), ErrorReported("server_error", f"boom {n}"))
    sink.report(3000, ConversationEnded("nobody spoke"))
    lines = out.getvalue().splitlines()
    assert lines[0] == "   0.00s  error  server_error: boom 0"
    assert lines[-1] == "   3.00s  error  server_error: 1999 more like it"
    assert len(lines) == 3


def test_the_log_folds_repeats_and_names_the_count(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="device")
    sink = LogSink(logging.getLogger("device"))
    for n in range(500):
        sink.report(n, ErrorReported("link_lost", "cable\npulled"))
    sink.report(20_000, ErrorReported("link_lost", "again"))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "link_lost: cable\\npulled",
        "link_lost: again (499 more like it before this)",
    ]


def test_a_sink_that_raises_is_logged_once_and_the_others_still_get_everything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def report(self, t_ms: float, report: Report) -> None:
            raise RuntimeError("LED ring unplugged")

    summary = RunSummary()
    fanout = ServiceHost(sinks=[Broken(), summary])
    for n in range(3):
        fanout.emit(n, StateChanged(State.IDLE, State.CONNECTING))
        fanout.emit(n, CallerSaid(f"hello {n}"))
    assert summary.user_transcripts == ["hello 0", "hello 1", "hello 2"]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "Broken failed (RuntimeError: LED ring unplugged)" in errors[0]
