"""The emulator over real WebSockets on loopback: turns, tools, barge-in, truncation.

Every event in both directions passes tests/openai_schema.py through ``on_event``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.emulator.helpers import (
    MANUAL,
    TRANSCRIBE,
    client,
    espeak,
    pcm_of,
    silence,
    tone,
)
from tests.helpers import validate
from tools.realtime_emulator import Emulator, Scenario
from tools.realtime_emulator.speech import synthesize


def scenario(*turns: dict[str, Any], **top: Any) -> Scenario:
    return Scenario.from_dict({"stream_speed": 0, **top, "turns": list(turns)})


async def test_a_tone_burst_is_one_turn_with_vad_times_on_the_input_timeline() -> None:
    sc = scenario({"user": "What are your opening hours?", "reply": "We open at nine."})
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await c.update(**TRANSCRIBE)
        await c.append(silence(500) + tone(800) + silence(1000))
        done = await emu.wait_for_event("server", "response.done")
    started = emu.of_type("server", "input_audio_buffer.speech_started")
    stopped = emu.of_type("server", "input_audio_buffer.speech_stopped")
    assert len(started) == len(stopped) == 1
    # onset 500 ms minus the 300 ms prefix padding; end 1300 ms plus the 500 ms silence window
    assert abs(started[0]["audio_start_ms"] - 200) <= 10
    assert abs(stopped[0]["audio_end_ms"] - 1800) <= 10
    user_item = started[0]["item_id"]
    assert stopped[0]["item_id"] == user_item
    assert emu.of_type("server", "input_audio_buffer.committed")[0]["item_id"] == user_item
    transcript = emu.of_type("server", "conversation.item.input_audio_transcription.completed")
    assert [(t["item_id"], t["transcript"]) for t in transcript] == [
        (user_item, "What are your opening hours?")
    ]
    assert done["response"]["status"] == "completed"
    usage = done["response"]["usage"]
    assert usage["output_token_details"]["audio_tokens"] > 0
    assert usage["output_token_details"]["text_tokens"] > 0
    assert usage["input_token_details"]["audio_tokens"] > 0
    assert emu.audio_received_ms == pytest.approx(2300, abs=1)
    assert emu.of_type("server", "rate_limits.updated")  # tolerated by clients


async def test_espeak_question_gets_a_spoken_reply_of_the_right_length(tmp_path: Path) -> None:
    reply = "We are open from nine to five."
    sc = scenario({"user": "What are your opening hours?", "reply": reply})
    speech = espeak("What are your opening hours?", tmp_path)
    samples = np.abs(np.frombuffer(speech, dtype="<i2").astype(int))
    loud = np.flatnonzero(samples > 1000)
    onset_ms, offset_ms = 300 + loud[0] / 24, 300 + loud[-1] / 24
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await c.update(**TRANSCRIBE)
        await c.append(silence(300) + speech + silence(800))
        done = await emu.wait_for_event("server", "response.done")
    started = emu.of_type("server", "input_audio_buffer.speech_started")
    stopped = emu.of_type("server", "input_audio_buffer.speech_stopped")
    assert len(started) == len(stopped) == 1  # pauses between words do not end the turn
    assert abs(started[0]["audio_start_ms"] - max(0, onset_ms - 300)) <= 20
    assert abs(stopped[0]["audio_end_ms"] - (offset_ms + 500)) <= 40
    pcm = pcm_of(emu.sent)
    assert len(pcm) == len(synthesize(reply))  # the whole reply, 24 kHz PCM16
    assert 1200 < len(pcm) / 48 < 4000  # about two seconds of speech
    out = np.frombuffer(pcm, dtype="<i2")
    assert np.abs(out).max() > 3000  # not silence
    assert emu.of_type("server", "response.output_audio_transcript.done")[0]["transcript"] == reply
    item = done["response"]["output"][0]
    assert item["content"] == [{"type": "output_audio", "transcript": reply}]


async def test_tool_call_round_trip_speaks_the_tool_output() -> None:
    sc = scenario(
        {
            "user": "Is order 1234 ready?",
            "tool_call": {"name": "order_status", "arguments": {"order_id": "1234"}},
            "reply": "The order system says {output}",
        }
    )
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await c.update(**MANUAL)
        await c.append(tone(300))
        await c.send({"type": "input_audio_buffer.commit"})
        await c.send({"type": "response.create"})
        call = await emu.wait_for_event("server", "response.function_call_arguments.done")
        first = await emu.wait_for_event("server", "response.done")
        assert call["name"] == "order_status"
        assert json.loads(call["arguments"]) == {"order_id": "1234"}
        assert first["response"]["output"][0]["type"] == "function_call"
        assert not pcm_of(emu.sent)  # a tool call says nothing
        await c.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": "ready for pickup at desk 3",
                },
            }
        )
        await c.send({"type": "response.create"})
        await emu.wait_for_event("server", "response.done", n=2)
    transcripts = emu.of_type("server", "response.output_audio_transcript.done")
    assert [t["transcript"] for t in transcripts] == [
        "The order system says ready for pickup at desk 3"
    ]
    deltas = emu.of_type("server", "response.function_call_arguments.delta")
    assert "".join(d["delta"] for d in deltas) == call["arguments"]


async def test_chained_tool_calls_and_a_reply_chosen_by_the_output() -> None:
    sc = scenario(
        {
            "user": "Where is the Smith order?",
            "tool_calls": [
                {"name": "find_order", "arguments": {"name": "Smith"}},
                {"name": "order_status", "arguments": {"order_id": "77"}},
            ],
            "reply": [
                {"if_output_contains": "shipped", "say": "It has shipped."},
                {"say": "Not yet: {output}"},
            ],
        }
    )
    outputs = ["order 77", "packing"]
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await c.update(**MANUAL)
        await c.append(tone(300))
        await c.send({"type": "input_audio_buffer.commit"})
        for n, output in enumerate(outputs, start=1):
            await c.send({"type": "response.create"})
            call = await emu.wait_for_event("server", "response.function_call_arguments.done", n=n)
            await emu.wait_for_event("server", "response.done", n=n)
            item = {"type": "function_call_output", "call_id": call["call_id"], "output": output}
            await c.send({"type": "conversation.item.create", "item": item})
        await c.send({"type": "response.create"})
        await emu.wait_for_event("server", "response.done", n=3)
    names = [e["name"] for e in emu.of_type("server", "response.function_call_arguments.done")]
    assert names == ["find_order", "order_status"]
    transcripts = emu.of_type("server", "response.output_audio_transcript.done")
    assert [t["transcript"] for t in transcripts] == ["Not yet: packing"]


async def test_two_turns_in_one_session() -> None:
    sc = scenario(
        {"user": "What are your opening hours?", "reply": "Nine to five."},
        {"user": "Thank you, goodbye.", "reply": "Goodbye."},
    )
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await c.update(**TRANSCRIBE)
        await c.append(silence(200) + tone(600) + silence(700))
        await emu.wait_for_event("server", "response.done")
        await c.append(tone(500) + silence(700))
        await emu.wait_for_event("server", "response.done", n=2)
    heard = [
        e["transcript"] for e in emu.of_type("server", "response.output_audio_transcript.done")
    ]
    said = emu.of_type("server", "conversation.item.input_audio_transcription.completed")
    assert heard == ["Nine to five.", "Goodbye."]
    assert [e["transcript"] for e in said] == [
        "What are your opening hours?",
        "Thank you, goodbye.",
    ]
    second = emu.of_type("server", "input_audio_buffer.speech_started")[1]
    # onset 1500 - 300 ms padding = 1200, clamped to where turn 1 ended (800 + 500 ms)
    assert abs(second["audio_start_ms"] - 1300) <= 10
    assert emu.sessions == 1


async def test_speech_during_a_response_cancels_it_with_turn_detected() -> None:
    long_reply = "Let me tell you a long story about our opening hours and holidays. " * 3
    sc = scenario(
        {"user": "Tell me everything.", "reply": long_reply},
        {"user": "Stop.", "reply": "Sorry."},
        stream_speed=4,
    )
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await c.append(tone(400) + silence(600))
        delta = await emu.wait_for_event("server", "response.output_audio.delta")
        await c.append(tone(300))  # the caller barges in
        done = await emu.wait_for_event("server", "response.done")
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"] == {
            "type": "cancelled",
            "reason": "turn_detected",
        }
        sent_ms = len(pcm_of(emu.sent)) / 48
        assert 0 < sent_ms < len(synthesize(long_reply.strip())) / 48  # cut short
        # the client truncates what it played; then its own next turn is answered
        await c.send(
            {
                "type": "conversation.item.truncate",
                "item_id": delta["item_id"],
                "content_index": 0,
                "audio_end_ms": 50,
            }
        )
        await emu.wait_for_event("server", "conversation.item.truncated")
        await c.append(silence(700))
        await emu.wait_for_event("server", "response.done", n=2)
    last = emu.of_type("server", "response.done")[1]["response"]
    assert last["status"] == "completed"
    assert last["output"][0]["content"][0]["transcript"] == "Sorry."


async def test_truncate_checks_the_audio_length_of_the_item() -> None:
    sc = scenario({"user": "Hi", "reply": "Hello there, how can I help?"})
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await c.append(tone(300) + silence(600))
        done = await emu.wait_for_event("server", "response.done")
        item_id = done["response"]["output"][0]["id"]
        audio_ms = len(pcm_of(emu.sent)) / 48

        async def truncate(end_ms: int) -> None:
            event = {"type": "conversation.item.truncate", "item_id": item_id}
            await c.send({**event, "content_index": 0, "audio_end_ms": end_ms})

        await truncate(int(audio_ms) + 500)
        error = (await emu.wait_for_event("server", "error"))["error"]
        assert error["type"] == "invalid_request_error"
        assert "already shorter than" in error["message"]
        await truncate(int(audio_ms / 2))
        truncated = await emu.wait_for_event("server", "conversation.item.truncated")
        assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, int(audio_ms / 2))
        await truncate(int(audio_ms / 2) + 100)  # beyond the new, shorter end
        await emu.wait_for_event("server", "error", n=2)
        user_item = emu.of_type("server", "input_audio_buffer.committed")[0]["item_id"]
        await c.send(
            {
                "type": "conversation.item.truncate",
                "item_id": user_item,
                "content_index": 0,
                "audio_end_ms": 10,
            }
        )
        third = (await emu.wait_for_event("server", "error", n=3))["error"]
    assert third["code"] == "unsupported_content_type"


async def test_one_active_response_and_cancel_rules() -> None:
    sc = Scenario.from_dict({"stream_speed": 2, "turns": [{"user": "Hi", "reply": "A long one."}]})
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await c.update(**MANUAL)
        await c.send({"type": "response.cancel"})
        no_active = (await emu.wait_for_event("server", "error"))["error"]
        assert no_active["code"] == "response_cancel_not_active"
        await c.send({"type": "response.create"})
        await c.send({"type": "response.create", "event_id": "evt_second"})
        busy = (await emu.wait_for_event("server", "error", n=2))["error"]
        assert busy["code"] == "conversation_already_has_active_response"
        assert busy["event_id"] == "evt_second"
        await c.send({"type": "response.cancel"})
        done = await emu.wait_for_event("server", "response.done")
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"]["reason"] == "client_cancelled"
    assert len(emu.of_type("server", "response.created")) == 1


async def test_commit_needs_100_ms_and_clear_empties_the_buffer() -> None:
    sc = scenario({"user": "Hi", "reply": "Hello."})
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await c.update(**MANUAL)
        await c.append(tone(60))
        await c.send({"type": "input_audio_buffer.commit"})
        error = (await emu.wait_for_event("server", "error"))["error"]
        assert error["code"] == "input_audio_buffer_commit_empty"
        assert "60.00ms" in error["message"]
        await c.append(tone(200))
        await c.send({"type": "input_audio_buffer.clear"})
        await emu.wait_for_event("server", "input_audio_buffer.cleared")
        await c.send({"type": "input_audio_buffer.commit"})
        await emu.wait_for_event("server", "error", n=2)
        await c.append(tone(150))
        await c.send({"type": "input_audio_buffer.commit"})
        await emu.wait_for_event("server", "input_audio_buffer.committed")
    # manual mode: no VAD events and no automatic response
    assert not emu.of_type("server", "input_audio_buffer.speech_started")
    assert not emu.of_type("server", "response.created")


async def test_text_only_output_streams_text_events() -> None:
    sc = scenario({"user": "Hi", "reply": "Hello in text."})
    async with Emulator(sc, on_event=validate) as emu, client(emu) as c:
        await c.update(output_modalities=["text"], **MANUAL)
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Hi"}],
        }
        await c.send({"type": "conversation.item.create", "item": item})
        await c.send({"type": "response.create"})
        await emu.wait_for_event("server", "response.done")
    assert emu.of_type("server", "response.output_text.done")[0]["text"] == "Hello in text."
    assert not pcm_of(emu.sent)


async def test_session_update_is_merged_and_echoed_and_beta_names_are_refused() -> None:
    async with Emulator(scenario(), on_event=validate) as emu, client(emu) as c:
        created = await emu.wait_for_event("server", "session.created")
        assert created["session"]["expires_at"] > 0  # live-server field, on the wire
        vad = {"type": "server_vad", "threshold": 0.7, "silence_duration_ms": 300}
        await c.update(audio={"input": {"turn_detection": vad}, "output": {"voice": "cedar"}})
        updated = (await emu.wait_for_event("server", "session.updated"))["session"]
        assert updated["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 300
        assert updated["audio"]["input"]["turn_detection"]["prefix_padding_ms"] == 300
        assert updated["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        assert updated["audio"]["output"]["voice"] == "cedar"
        # a beta-shaped update: not GA, so the client validator refuses it too
        emu.on_event = lambda d, e: None
        await c.send({"type": "session.update", "session": {"type": "realtime", "voice": "ash"}})
        error = (await emu.wait_for_event("server", "error"))["error"]
        assert (error["code"], error["param"]) == ("unknown_parameter", "session.voice")
        with pytest.raises(AssertionError):
            validate("client", emu.received[-1])
