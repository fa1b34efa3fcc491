"""A hostile server's tool calls (issue 26, item 5): a megabyte of arguments, a megabyte of
tool name, text that is not UTF-8. The log stays readable, the audit file keeps a bounded
record that says what was cut (its size and sha256), and the tool box never raises."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from device.tools.audit import FIELD_MAX_BYTES, LOG_LINE_MAX_CHARS, audit_line, bounded
from device.tools.base import ToolCall, ToolContext
from device.tools.settings import FaqEntry, FaqTool
from tests.helpers.tools import MakeBox

MB = 1_000_000
HOURS = FaqEntry(keywords=("hours", "open"), answer="We open at nine.")


def records(tmp_path: Path) -> list[dict[str, Any]]:
    text = (tmp_path / "audit.jsonl").read_bytes().decode("utf-8")  # valid UTF-8, or this fails
    return [json.loads(line) for line in text.splitlines()]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def assert_log_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records, "nothing was logged"
    for record in caplog.records:
        message = record.getMessage()
        assert len(message) <= LOG_LINE_MAX_CHARS + 100, (record.name, len(message))
        assert "\n" not in message


async def run(box: Any, name: str, arguments: str) -> Any:
    context = ToolContext(conversation_id="conv-1", transcript=())
    return await box.run(ToolCall("call_1", name, arguments), context)


async def test_a_megabyte_of_arguments_is_cut_with_its_size_and_hash(
    make_box: MakeBox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="device")
    box = make_box(FaqTool(entries=(HOURS,)))
    question = "opening hours " + "é" * (MB // 2)  # two bytes each: a cut must not split one
    arguments = json.dumps({"question": question})
    result = await run(box, "faq", arguments)
    assert result.ok and result.output == "We open at nine."

    [record] = records(tmp_path)
    kept_text = json.dumps({"question": question}, ensure_ascii=False)
    assert record["cut"] == {
        "arguments": {"bytes": len(kept_text.encode()), "sha256": sha256(kept_text)}
    }
    assert record["cut"]["arguments"]["bytes"] > MB
    assert isinstance(record["arguments"], str)
    assert kept_text.startswith(record["arguments"])
    assert FIELD_MAX_BYTES - 1 <= len(record["arguments"].encode()) <= FIELD_MAX_BYTES
    assert (record["tool"], record["status"], record["ok"]) == ("faq", "ok", True)
    assert len((tmp_path / "audit.jsonl").read_bytes()) < 2 * FIELD_MAX_BYTES
    assert box.last_audit is not None and box.last_audit["cut"] == record["cut"]

    assert_log_is_bounded(caplog)
    [audit_log] = [r.getMessage() for r in caplog.records if "tool audit" in r.getMessage()]
    assert len(audit_log) < 1500  # 300 bytes of each field, and what was cut
    assert sha256(kept_text) in audit_log  # the log says what the file says was there


async def test_a_megabyte_of_text_that_is_not_json_is_cut_and_hashed_as_sent(
    make_box: MakeBox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="device")
    box = make_box(FaqTool(entries=(HOURS,)))
    raw = '{"question": "' + "x" * MB  # never closed
    result = await run(box, "faq", raw)
    assert not result.ok and "not JSON" in result.output and len(result.output) < 300
    [record] = records(tmp_path)
    assert record["status"] == "invalid_arguments"
    assert record["arguments"] == raw[:FIELD_MAX_BYTES]
    assert record["cut"]["arguments"] == {"bytes": len(raw), "sha256": sha256(raw)}
    assert_log_is_bounded(caplog)


async def test_a_megabyte_of_tool_name_is_answered_briefly(
    make_box: MakeBox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="device")
    box = make_box(FaqTool(entries=(HOURS,)))
    name = "n" * MB
    result = await run(box, name, "{}")
    assert not result.ok and len(result.output) < 300  # the model is not sent its megabyte back
    assert "(tools: faq)" in result.output
    [record] = records(tmp_path)
    assert record["status"] == "unknown_tool"
    assert record["cut"] == {"tool": {"bytes": MB, "sha256": sha256(name)}}
    assert_log_is_bounded(caplog)


async def test_text_that_utf8_cannot_carry_is_audited_without_failing_the_call(
    make_box: MakeBox, tmp_path: Path
) -> None:
    box = make_box(FaqTool(entries=(HOURS,)))
    result = await run(box, "faq", '{"question": "opening hours \\ud800\\u2028"}')
    assert result.ok
    [record] = records(tmp_path)  # the file is valid UTF-8
    assert record["arguments"] == {"question": "opening hours \ud800\u2028"}  # as it came
    data = (tmp_path / "audit.jsonl").read_bytes()
    assert data.count(b"\n") == 1 and "\u2028".encode() not in data  # one record, one line


def test_bounded_keeps_small_records_as_they_are() -> None:
    record = {"tool": "faq", "arguments": {"question": "hours"}, "ok": True, "ms": 1.5}
    assert bounded(record) == record
    assert json.loads(audit_line(record)) == record


def test_bounded_cuts_each_long_field_on_a_character_boundary() -> None:
    record = {"tool": "faq", "detail": "€" * 200, "arguments": {"q": "a" * 500}}
    out = bounded(record, max_bytes=100)
    assert out["tool"] == "faq"
    assert out["detail"] == "€" * 33  # 99 bytes: the 34th would not fit whole
    assert out["arguments"] == json.dumps(record["arguments"])[:100]
    assert out["cut"] == {
        "detail": {"bytes": 600, "sha256": sha256("€" * 200)},
        "arguments": {"bytes": 509, "sha256": sha256(json.dumps(record["arguments"]))},
    }
