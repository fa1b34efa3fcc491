"""The pure record of one conversation: reports and audio in, file operations out (no clock,
no files): the JSON lines, per-turn caller files, replies cut where the caller interrupted,
consent, secrets masked."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from device.conversation.reports import (
    AssistantSaid,
    CallerSaid,
    ConsentAnswered,
    ConversationEnded,
    CostReported,
    Interrupted,
    Outcome,
    StateChanged,
    ToolReported,
    TurnEnded,
)
from device.conversation.state import State
from device.recording.conversation_record import ConversationRecord, RecordPolicy
from device.recording.ops import (
    AppendAudio,
    Begin,
    CloseAudio,
    DeleteAudio,
    Finish,
    Line,
    Op,
    OpenAudio,
    folder_name,
)

WALL_S = 1_750_000_000.0  # 2025-06-15T15:06:40Z
CHUNK = bytes(960 * 2)  # 40 ms at 24 kHz


def _start(**policy: Any) -> tuple[ConversationRecord, list[Op]]:
    return ConversationRecord.start(
        RecordPolicy(config_sha256="ab" * 32, info={"device": "kiosk-1"}, **policy),
        conversation_id="conv-3",
        source="button",
        t_ms=1000.0,
        wall_s=WALL_S,
    )


def lines(ops: list[Op]) -> list[dict[str, Any]]:
    return [json.loads(op.text) for op in ops if isinstance(op, Line)]


def of(ops: list[Op], kind: str) -> list[dict[str, Any]]:
    return [line for line in lines(ops) if line["type"] == kind]


def test_the_header_names_the_conversation_its_config_and_the_folder_sorts_by_time() -> None:
    _, ops = _start()
    assert ops[0] == Begin("20250615T150640.000Z-conv-3")
    (header,) = lines(ops)
    assert header["type"] == "conversation" and header["conversation_id"] == "conv-3"
    assert header["config_sha256"] == "ab" * 32 and header["device"] == "kiosk-1"
    assert header["time"] == "2025-06-15T15:06:40.000Z" and header["audio"] is False
    assert folder_name(WALL_S, "../../etc/passwd") == "20250615T150640.000Z-______etc_passwd"
    assert "/" not in folder_name(WALL_S, "a/b")


def test_a_transcript_holds_the_words_with_times_tools_masked_the_outcome_and_cost() -> None:
    record, ops = _start()
    ops += record.report(1500.0, StateChanged(State.CONNECTING, State.LISTENING))
    ops += record.report(3000.0, TurnEnded(1))
    ops += record.report(3200.0, CallerSaid("Is job 4172 done? My PIN is in the app."))
    arguments = json.dumps({"job_id": "4172", "access_token": "s3cr3t-t0ken", "note": "x"})
    ops += record.report(
        3500.0, ToolReported("job_status", arguments, True, 120.0, '{"status": "done"}', "none")
    )
    cost = CostReported("conv-3", "resp_1", "gpt-realtime-2.1", Decimal("0.0025"),
                        Decimal("0.0025"), "2025-06-15", Decimal("1.5"))  # fmt: skip
    ops += record.report(4000.0, cost)
    ops += record.report(4100.0, AssistantSaid("Job 4172 is done."))
    ops += record.report(6000.0, ConversationEnded("goodbye", 300.0, Outcome.GOODBYE))
    assert record.finished and ops[-1] == Finish()
    text = "\n".join(op.text for op in ops if isinstance(op, Line))
    assert "s3cr3t-t0ken" not in text
    (caller,) = of(ops, "caller")
    assert caller == {
        "type": "caller", "t_ms": 2200.0, "time": "2025-06-15T15:06:42.200Z", "turn": 1,
        "text": "Is job 4172 done? My PIN is in the app.",
    }  # fmt: skip
    (tool,) = of(ops, "tool")
    assert tool["arguments"] == {"job_id": "4172", "access_token": "***", "note": "x"}
    assert tool["output"] == {"status": "done"} and tool["ok"] is True
    assert of(ops, "assistant")[0]["text"] == "Job 4172 is done."
    (end,) = of(ops, "end")
    assert end["outcome"] == "goodbye" and end["cost_usd"] == "0.0025"
    assert end["turns"] == 1 and end["tool_calls"] == 1 and end["t_ms"] == 5000.0
    # transcripts only: no audio operation at all
    assert not [op for op in ops if isinstance(op, OpenAudio | AppendAudio)]
    assert record.report(7000.0, CallerSaid("after the end")) == []


def test_the_callers_audio_is_one_file_per_turn_exactly_as_uploaded() -> None:
    record, ops = _start(audio=True)
    for _ in range(3):
        ops += record.caller_audio(1100.0, CHUNK)
    ops += record.report(2000.0, TurnEnded(1))
    ops += record.caller_audio(2100.0, CHUNK)
    ops += record.report(3000.0, TurnEnded(2))
    ops += record.caller_audio(3100.0, CHUNK)  # the hang-over after the last turn
    ops += record.report(4000.0, ConversationEnded("bye", None, Outcome.GOODBYE))
    appended: dict[str, int] = {}
    for op in ops:
        if isinstance(op, AppendAudio):
            appended[op.name] = appended.get(op.name, 0) + len(op.pcm)
    assert appended == {
        "turn-01-caller.wav": 3 * len(CHUNK),
        "turn-02-caller.wav": len(CHUNK),
        "turn-03-caller.wav": len(CHUNK),
    }
    turns = of(ops, "turn")
    assert [(t["turn"], t["ended"], t["caller_audio"], t["audio_ms"]) for t in turns] == [
        (1, True, "turn-01-caller.wav", 120.0),
        (2, True, "turn-02-caller.wav", 40.0),
        (3, False, "turn-03-caller.wav", 40.0),
    ]
    closes = [op.name for op in ops if isinstance(op, CloseAudio)]
    assert closes == list(appended)


def test_a_reply_interrupted_is_cut_where_the_caller_stopped_hearing_it() -> None:
    record, ops = _start(audio=True)
    for _ in range(10):  # 400 ms of item_a handed to the speaker
        ops += record.reply_audio(1200.0, "item_a", CHUNK)
    ops += record.report(1500.0, Interrupted("the caller (device)", 1, "item_a", 250))
    ops += record.reply_audio(1510.0, "item_a", CHUNK)  # late audio of the cut item
    ops += record.reply_audio(2000.0, "item_b", CHUNK)
    ops += record.report(3000.0, ConversationEnded("bye", None, Outcome.GOODBYE))
    assert CloseAudio("reply-01.wav", 250 * 48) in ops
    assert sum(len(op.pcm) for op in ops if isinstance(op, AppendAudio)) == 11 * len(CHUNK)
    replies = {r["item_id"]: r for r in of(ops, "reply_audio")}
    assert replies["item_a"]["audio_ms"] == 250.0 and replies["item_a"]["received_ms"] == 400.0
    assert replies["item_a"]["cut_at_ms"] == 250.0
    assert replies["item_b"]["file"] == "reply-02.wav" and replies["item_b"]["cut_at_ms"] is None


def test_consent_required_keeps_audio_only_after_a_yes_and_a_no_deletes_it() -> None:
    record, ops = _start(audio=True, consent_required=True)
    ops += record.caller_audio(1100.0, CHUNK)
    ops += record.reply_audio(1200.0, "item_q", CHUNK)  # the question itself
    assert not [op for op in ops if isinstance(op, OpenAudio | AppendAudio)]
    ops += record.report(1300.0, ConsentAnswered(True, "spoken"))
    ops += record.caller_audio(1400.0, CHUNK)
    assert OpenAudio("turn-01-caller.wav") in ops
    ops += record.report(1500.0, ConsentAnswered(False, "spoken"))  # changed their mind
    assert ops[-2] == DeleteAudio(("turn-01-caller.wav",))
    after = record.caller_audio(1600.0, CHUNK) + record.reply_audio(1700.0, "item_r", CHUNK)
    assert after == []
    end = record.report(2000.0, ConversationEnded("bye", None, Outcome.GOODBYE))
    (summary,) = of(end, "end")
    assert summary["audio_files"] == [] and summary["caller_audio_not_kept_ms"] == 80.0
    assert [c["recorded"] for c in of(ops, "consent")] == [True, False]


def test_consent_not_asked_records_at_once_but_never_after_a_no() -> None:
    record, _ = _start(audio=True)
    assert record.caller_audio(1100.0, CHUNK)[0] == OpenAudio("turn-01-caller.wav")
    record.report(1200.0, ConsentAnswered(False, "button"))
    assert record.caller_audio(1300.0, CHUNK) == []


def test_the_daemon_stopping_mid_conversation_still_closes_the_record() -> None:
    record, _ = _start(audio=True)
    record.caller_audio(1100.0, CHUNK)
    ops = record.end(1500.0)
    assert CloseAudio("turn-01-caller.wav") in ops and ops[-1] == Finish()
    assert of(ops, "end")[0]["outcome"] == "unfinished"
    assert record.end(1600.0) == []


def test_a_huge_or_hostile_tool_call_is_bounded_and_one_line() -> None:
    record, _ = _start()
    arguments = json.dumps({"text": "x" * 100_000 + "\u2028"})
    (op,) = record.report(1100.0, ToolReported("faq", arguments, False, 1.0, "\n" * 10, "none"))
    assert isinstance(op, Line) and "\n" not in op.text and len(op.text) < 10_000
    assert json.loads(op.text)["cut"]["arguments"]["bytes"] > 100_000
