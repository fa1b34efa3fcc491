"""The run summary and timeline: what an operator reads after a run."""

from __future__ import annotations

import json

from device.conversation import Report
from device.summary import RunSummary, timeline_line


def tool_report(arguments: str) -> Report:
    return Report(
        "tool",
        {
            "name": "job_status",
            "arguments": arguments,
            "ok": True,
            "ms": 12.3,
            "output": "done",
            "action": "continue",
        },
    )


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
    end = Report("conversation_end", {"reason": "the caller said goodbye", "hangup_ms": 612.4})
    summary.add(end)
    summary.add(Report("conversation_end", {"reason": "nobody spoke"}))
    assert summary.hangup_ms == [612.4] and summary.conversations == 2
    assert timeline_line(0, end) == (
        "   0.00s  end    conversation over: the caller said goodbye "
        "(hung up 612 ms after the model's call)"
    )
