"""The pure GA codec: builders against the openai types, parsing, errors, gate, truncation."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from device.realtime import protocol
from device.realtime.events import (
    AudioDelta,
    AudioDone,
    FunctionCallDone,
    Ignored,
    InputCommitted,
    InputTranscript,
    InputTranscriptFailed,
    ItemTruncated,
    ResponseCreated,
    ResponseDone,
    ServerError,
    SessionCreated,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
    TranscriptDelta,
    TranscriptDone,
    Usage,
)
from device.realtime.protocol import ProtocolError, ResponseGate, truncate_point
from device.realtime.settings import (
    NoTurnDetection,
    RealtimeSettings,
    SemanticVad,
    ServerVad,
    TranscriptionSettings,
)
from tests.openai_schema import assert_client_event, assert_server_event

TOOL = {
    "type": "function",
    "name": "opening_hours",
    "description": "Opening hours of the shop on a given day.",
    "parameters": {
        "type": "object",
        "properties": {"day": {"type": "string"}},
        "required": ["day"],
    },
}

# ---- client events -----------------------------------------------------------------------


def _session(event: dict[str, Any]) -> dict[str, Any]:
    assert_client_event(event)
    assert event["type"] == "session.update"
    assert "model" not in event["session"]
    json.loads(protocol.encode(event))  # JSON-serialisable as built
    return event["session"]


def test_session_update_defaults_server_vad() -> None:
    s = _session(protocol.session_update(RealtimeSettings()))
    assert s["type"] == "realtime"
    assert s["output_modalities"] == ["audio"]
    assert s["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert s["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "marin",
        "speed": 1.0,
    }
    assert s["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "create_response": True,
        "interrupt_response": True,
    }
    assert s["audio"]["input"]["noise_reduction"] == {"type": "far_field"}
    assert s["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
    assert "tools" not in s and "tool_choice" not in s and "max_output_tokens" not in s


@pytest.mark.parametrize(
    ("rt", "check"),
    [
        pytest.param(
            RealtimeSettings(
                turn_detection=ServerVad(
                    threshold=0.8, silence_duration_ms=900, idle_timeout_ms=8000
                )
            ),
            lambda s: (
                s["audio"]["input"]["turn_detection"]["idle_timeout_ms"] == 8000
                and s["audio"]["input"]["turn_detection"]["threshold"] == 0.8
            ),
            id="server_vad-idle-timeout",
        ),
        pytest.param(
            RealtimeSettings(turn_detection=SemanticVad(eagerness="low", interrupt_response=False)),
            lambda s: (
                s["audio"]["input"]["turn_detection"]
                == {
                    "type": "semantic_vad",
                    "eagerness": "low",
                    "create_response": True,
                    "interrupt_response": False,
                }
            ),
            id="semantic_vad",
        ),
        pytest.param(
            RealtimeSettings(turn_detection=NoTurnDetection()),
            lambda s: (
                s["audio"]["input"]["turn_detection"] is None
                and '"turn_detection":null' in protocol.encode({"s": s})
            ),
            id="no-turn-detection-is-null",
        ),
        pytest.param(
            RealtimeSettings(noise_reduction="off"),
            lambda s: s["audio"]["input"]["noise_reduction"] is None,
            id="noise-reduction-off",
        ),
        pytest.param(
            RealtimeSettings(noise_reduction="near_field"),
            lambda s: s["audio"]["input"]["noise_reduction"] == {"type": "near_field"},
            id="noise-reduction-near",
        ),
        pytest.param(
            RealtimeSettings(
                transcription=TranscriptionSettings(language="de", prompt="Brezel, Semmel")
            ),
            lambda s: (
                s["audio"]["input"]["transcription"]
                == {"model": "gpt-4o-mini-transcribe", "language": "de", "prompt": "Brezel, Semmel"}
            ),
            id="transcription-language-prompt",
        ),
        pytest.param(
            RealtimeSettings(transcription=TranscriptionSettings(enabled=False)),
            lambda s: "transcription" not in s["audio"]["input"],
            id="transcription-off",
        ),
        pytest.param(
            RealtimeSettings(max_output_tokens=300),
            lambda s: s["max_output_tokens"] == 300,
            id="max-output-tokens",
        ),
        pytest.param(
            RealtimeSettings(voice="cedar", speed=1.25),
            lambda s: (
                s["audio"]["output"]["voice"] == "cedar" and s["audio"]["output"]["speed"] == 1.25
            ),
            id="voice-speed",
        ),
    ],
)
def test_session_update_variants(rt: RealtimeSettings, check: Any) -> None:
    assert check(_session(protocol.session_update(rt)))


def test_session_update_with_tools_and_extra_instructions() -> None:
    rt = RealtimeSettings(instructions="Be brief.")
    s = _session(protocol.session_update(rt, tools=[TOOL], extra_instructions="Read numbers back."))
    assert s["tools"] == [TOOL]
    assert s["tool_choice"] == "auto"
    assert s["instructions"] == "Be brief.\n\nRead numbers back."


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            protocol.input_audio_append(b"\x01\x00\xff\x7f"),
            {"type": "input_audio_buffer.append", "audio": "AQD/fw=="},
        ),
        (protocol.input_audio_commit(), {"type": "input_audio_buffer.commit"}),
        (protocol.input_audio_clear(), {"type": "input_audio_buffer.clear"}),
        (protocol.response_create(), {"type": "response.create"}),
        (protocol.response_cancel(), {"type": "response.cancel"}),
        (
            protocol.function_call_output("call_1", '{"open":"9-17"}'),
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": "call_1",
                    "output": '{"open":"9-17"}',
                },
            },
        ),
        (
            protocol.item_truncate("item_9", 1234),
            {
                "type": "conversation.item.truncate",
                "item_id": "item_9",
                "content_index": 0,
                "audio_end_ms": 1234,
            },
        ),
        (
            protocol.text_item("user", "Where is the pharmacy?"),
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Where is the pharmacy?"}],
                },
            },
        ),
        (
            protocol.text_item("assistant", "Second floor."),
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Second floor."}],
                },
            },
        ),
        (
            protocol.EventIds("k_").stamp(protocol.response_create()),
            {"type": "response.create", "event_id": "k_1"},
        ),
    ],
)
def test_client_builders(event: dict[str, Any], expected: dict[str, Any]) -> None:
    assert_client_event(event)
    assert event == expected
    assert json.loads(protocol.encode(event)) == expected


def test_encode_is_compact_and_keeps_unicode() -> None:
    text = protocol.encode(protocol.text_item("user", "Grüß Gott"))
    assert " " not in text.replace("Grüß Gott", "")
    assert "Grüß Gott" in text


def test_event_ids_count_up() -> None:
    ids = protocol.EventIds()
    assert [ids.next(), ids.next()] == ["dev_1", "dev_2"]


def test_the_openai_schema_check_can_fail() -> None:
    # guards the guard: a beta-shape field must be refused by the validator we rely on
    event = protocol.session_update(RealtimeSettings())
    event["session"]["modalities"] = ["audio"]
    with pytest.raises(AssertionError):
        assert_client_event(event)


# ---- server events -----------------------------------------------------------------------

PCM = bytes(range(256)) * 4  # 1024 bytes, whole samples
B64 = base64.b64encode(PCM).decode()

USAGE = {
    "total_tokens": 560,
    "input_tokens": 400,
    "output_tokens": 160,
    "input_token_details": {
        "text_tokens": 120,
        "audio_tokens": 280,
        "cached_tokens": 64,
        "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0},
    },
    "output_token_details": {"text_tokens": 40, "audio_tokens": 120},
}


def _response(rid: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "object": "realtime.response",
        "id": rid,
        "status": status,
        "output": [],
        "conversation_id": "conv_1",
        "output_modalities": ["audio"],
        "max_output_tokens": "inf",
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}},
        **extra,
    }


SERVER_CASES: list[tuple[dict[str, Any], Any]] = [
    (
        {
            "type": "session.created",
            "event_id": "ev_1",
            "session": {"type": "realtime", "model": "gpt-realtime-2.1", "instructions": "Hi"},
        },
        SessionCreated(session_id="", expires_at=None),
    ),
    (
        {
            "type": "session.updated",
            "event_id": "ev_2",
            "session": {"type": "realtime", "output_modalities": ["audio"]},
        },
        SessionUpdated(session_id=None),
    ),
    (
        {
            "type": "input_audio_buffer.speech_started",
            "event_id": "ev_3",
            "audio_start_ms": 1020,
            "item_id": "item_u1",
        },
        SpeechStarted("item_u1", 1020),
    ),
    (
        {
            "type": "input_audio_buffer.speech_stopped",
            "event_id": "ev_4",
            "audio_end_ms": 2400,
            "item_id": "item_u1",
        },
        SpeechStopped("item_u1", 2400),
    ),
    (
        {
            "type": "input_audio_buffer.committed",
            "event_id": "ev_5",
            "previous_item_id": None,
            "item_id": "item_u1",
        },
        InputCommitted("item_u1"),
    ),
    (
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": "ev_6",
            "item_id": "item_u1",
            "content_index": 0,
            "transcript": "Where is the pharmacy?",
            "usage": {"type": "duration", "seconds": 1.4},
        },
        InputTranscript("item_u1", "Where is the pharmacy?"),
    ),
    (
        {
            "type": "conversation.item.input_audio_transcription.failed",
            "event_id": "ev_6b",
            "item_id": "item_u1",
            "content_index": 0,
            "error": {
                "type": "transcription_error",
                "code": "audio_unintelligible",
                "message": "Audio is unintelligible",
                "param": None,
            },
        },
        InputTranscriptFailed("item_u1", "Audio is unintelligible"),
    ),
    (
        {
            "type": "response.created",
            "event_id": "ev_7",
            "response": _response("resp_1", "in_progress"),
        },
        ResponseCreated("resp_1"),
    ),
    (
        {
            "type": "response.output_audio.delta",
            "event_id": "ev_8",
            "response_id": "resp_1",
            "item_id": "item_a1",
            "output_index": 0,
            "content_index": 1,
            "delta": B64,
        },
        AudioDelta("resp_1", "item_a1", 1, PCM),
    ),
    (
        {
            "type": "response.output_audio.done",
            "event_id": "ev_9",
            "response_id": "resp_1",
            "item_id": "item_a1",
            "output_index": 0,
            "content_index": 0,
        },
        AudioDone("resp_1", "item_a1"),
    ),
    (
        {
            "type": "response.output_audio_transcript.delta",
            "event_id": "ev_10",
            "response_id": "resp_1",
            "item_id": "item_a1",
            "output_index": 0,
            "content_index": 0,
            "delta": "Second ",
        },
        TranscriptDelta("resp_1", "item_a1", "Second "),
    ),
    (
        {
            "type": "response.output_audio_transcript.done",
            "event_id": "ev_11",
            "response_id": "resp_1",
            "item_id": "item_a1",
            "output_index": 0,
            "content_index": 0,
            "transcript": "Second floor.",
        },
        TranscriptDone("resp_1", "item_a1", "Second floor."),
    ),
    (
        {
            "type": "response.function_call_arguments.done",
            "event_id": "ev_12",
            "response_id": "resp_2",
            "item_id": "item_f1",
            "output_index": 0,
            "call_id": "call_7",
            "name": "opening_hours",
            "arguments": '{"day":"monday"}',
        },
        FunctionCallDone("resp_2", "item_f1", "call_7", "opening_hours", '{"day":"monday"}'),
    ),
    (
        {
            "type": "response.done",
            "event_id": "ev_13",
            "response": _response("resp_1", "completed", usage=USAGE),
        },
        ResponseDone(
            "resp_1",
            "completed",
            None,
            Usage(
                input_tokens=400,
                output_tokens=160,
                input_audio_tokens=280,
                input_text_tokens=120,
                input_cached_tokens=64,
                output_audio_tokens=120,
                output_text_tokens=40,
            ),
        ),
    ),
    (
        {
            "type": "response.done",
            "event_id": "ev_14",
            "response": _response(
                "resp_3",
                "cancelled",
                status_details={"type": "cancelled", "reason": "turn_detected"},
            ),
        },
        ResponseDone("resp_3", "cancelled", "turn_detected", Usage()),
    ),
    (
        {
            "type": "response.done",
            "event_id": "ev_15",
            "response": _response(
                "resp_4",
                "failed",
                status_details={
                    "type": "failed",
                    "error": {"type": "server_error", "code": "internal_error", "message": "x"},
                },
            ),
        },
        ResponseDone("resp_4", "failed", "internal_error", Usage()),
    ),
    (
        {
            "type": "conversation.item.truncated",
            "event_id": "ev_16",
            "item_id": "item_a1",
            "content_index": 0,
            "audio_end_ms": 1500,
        },
        ItemTruncated("item_a1", 1500),
    ),
    (
        {
            "type": "error",
            "event_id": "ev_17",
            "error": {
                "type": "invalid_request_error",
                "code": "conversation_already_has_active_response",
                "message": "Conversation already has an active response in progress: resp_1.",
                "param": None,
                "event_id": "dev_4",
            },
        },
        ServerError(
            code="conversation_already_has_active_response",
            message="Conversation already has an active response in progress: resp_1.",
            severity="harmless",
            param=None,
            client_event_id="dev_4",
        ),
    ),
    (
        {
            "type": "error",
            "event_id": "ev_18",
            "error": {
                "type": "invalid_request_error",
                "code": "session_expired",
                "message": "Your session hit the maximum duration of 60 minutes.",
            },
        },
        ServerError(
            "session_expired", "Your session hit the maximum duration of 60 minutes.", "session"
        ),
    ),
    (
        {
            "type": "error",
            "event_id": "ev_19",
            "error": {
                "type": "invalid_request_error",
                "code": "invalid_value",
                "message": "Invalid value: 'robot'.",
                "param": "session.audio.output.voice",
            },
        },
        ServerError(
            "invalid_value", "Invalid value: 'robot'.", "fatal", param="session.audio.output.voice"
        ),
    ),
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    SERVER_CASES,
    ids=[f"{c[0]['type']}-{i}" for i, c in enumerate(SERVER_CASES)],
)
def test_parse_server_events(raw: dict[str, Any], expected: Any) -> None:
    assert_server_event(raw)
    assert protocol.parse_server_event(json.dumps(raw)) == expected
    assert protocol.parse_server_event(json.dumps(raw).encode()) == expected


def test_session_created_from_the_live_server_keeps_id_and_expiry() -> None:
    # The live server adds id/expires_at to the session (the openai types do not declare them).
    raw = {
        "type": "session.created",
        "event_id": "ev_1",
        "session": {"type": "realtime", "id": "sess_42", "expires_at": 1760000000},
    }
    assert protocol.parse_server_event(json.dumps(raw)) == SessionCreated("sess_42", 1760000000)


def test_audio_delta_without_content_index_defaults_to_zero() -> None:
    raw = {
        "type": "response.output_audio.delta",
        "response_id": "r",
        "item_id": "i",
        "delta": B64,
    }
    event = protocol.parse_server_event(json.dumps(raw))
    assert isinstance(event, AudioDelta) and event.content_index == 0 and event.pcm == PCM


@pytest.mark.parametrize(
    "raw",
    [
        {
            "type": "rate_limits.updated",
            "event_id": "ev_r",
            "rate_limits": [
                {"name": "tokens", "limit": 40000, "remaining": 39000, "reset_seconds": 1.5}
            ],
        },
        {
            "type": "conversation.item.added",
            "event_id": "ev_a",
            "previous_item_id": None,
            "item": {
                "id": "item_u1",
                "object": "realtime.item",
                "type": "message",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_audio", "transcript": None}],
            },
        },
        {
            "type": "response.output_item.added",
            "event_id": "ev_o",
            "response_id": "resp_1",
            "output_index": 0,
            "item": {
                "id": "item_a1",
                "object": "realtime.item",
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            },
        },
        {
            "type": "input_audio_buffer.timeout_triggered",
            "event_id": "ev_t",
            "audio_start_ms": 0,
            "audio_end_ms": 9000,
            "item_id": "item_x",
        },
    ],
    ids=lambda raw: raw["type"],
)
def test_known_events_the_device_ignores(raw: dict[str, Any]) -> None:
    assert_server_event(raw)
    assert protocol.parse_server_event(json.dumps(raw)) == Ignored(raw["type"], raw)


def test_unknown_future_type_is_ignored_not_an_error() -> None:
    raw = {"type": "response.hologram.delta", "event_id": "ev_z", "beam": 3}
    assert protocol.parse_server_event(json.dumps(raw)) == Ignored("response.hologram.delta", raw)


LONG = "x" * 5000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type": "session.created", ', "server event is not valid JSON (Expecting"),
        ("[1, 2]", "server event is not a JSON object (got list)"),
        ('"hello"', "server event is not a JSON object (got str)"),
        ('{"event_id": "e"}', "server event has no 'type' field"),
        ('{"type": 7}', "server event has no 'type' field"),
        (b"\xff\xfe{}", "server event is not"),
        (
            '{"type": "response.output_audio.delta", "response_id": "r", "delta": "AAAA"}',
            "server event 'response.output_audio.delta': missing field 'item_id'",
        ),
        (
            '{"type": "response.output_audio.delta", "response_id": "r", "item_id": "i",'
            ' "delta": "%%not base64%%"}',
            "server event 'response.output_audio.delta': field 'delta' is not valid base64",
        ),
        (
            '{"type": "response.output_audio.delta", "response_id": "r", "item_id": "i",'
            ' "delta": "AAAA"}',
            "server event 'response.output_audio.delta': field 'delta' holds 3 bytes",
        ),
        (
            '{"type": "input_audio_buffer.speech_started", "item_id": "i", "audio_start_ms": "5"}',
            "server event 'input_audio_buffer.speech_started': field 'audio_start_ms' must be"
            " an integer, got string",
        ),
        (
            '{"type": "response.created", "response": {"status": "in_progress"}}',
            "server event 'response.created': missing field 'response.id'",
        ),
        (
            '{"type": "response.done", "response": {"id": "r"}}',
            "server event 'response.done': missing field 'response.status'",
        ),
        (
            '{"type": "response.done", "response": {"id": "r", "status": "completed",'
            ' "usage": {"output_tokens": "many"}}}',
            "server event 'response.done': field 'response.usage.output_tokens' must be an integer",
        ),
        (
            '{"type": "error", "error": "boom"}',
            "server event 'error': field 'error' must be an object",
        ),
        (
            '{"type": "error", "error": {"code": "x"}}',
            "server event 'error': missing field 'error.message'",
        ),
        ('{"type": "session.created"}', "server event 'session.created': missing field 'session'"),
        (
            '{"type": "conversation.item.truncated", "item_id": "i"}',
            "server event 'conversation.item.truncated': missing field 'audio_end_ms'",
        ),
        (
            '{"type": "response.output_audio.delta", "response_id": "r", "item_id": "i",'
            f' "delta": "{LONG}!"}}',
            "is not valid base64",
        ),
        ("{" + LONG, "server event is not valid JSON"),
    ],
)
def test_malformed_server_events_give_one_line(text: str | bytes, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        protocol.parse_server_event(text)
    text_of_error = str(info.value)
    assert message in text_of_error
    assert "\n" not in text_of_error
    assert len(text_of_error) < 200  # a sample at most, never the whole payload


def test_unclassified_error_code_is_harmless_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    raw = {
        "type": "error",
        "event_id": "e",
        "error": {"type": "server_error", "code": "brand_new_code", "message": "Something."},
    }
    assert_server_event(raw)
    event = protocol.parse_server_event(json.dumps(raw))
    assert event == ServerError("brand_new_code", "Something.", "harmless")
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "brand_new_code" in warnings[0].getMessage()


def test_error_without_code_uses_its_type() -> None:
    raw = {"type": "error", "event_id": "e", "error": {"type": "server_error", "message": "Oops"}}
    assert_server_event(raw)
    event = protocol.parse_server_event(json.dumps(raw))
    assert isinstance(event, ServerError)
    assert (event.code, event.severity) == ("server_error", "harmless")


# ---- error classification ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "param", "severity"),
    [
        ("conversation_already_has_active_response", None, "harmless"),
        ("response_cancel_not_active", None, "harmless"),
        ("input_audio_buffer_commit_empty", None, "harmless"),
        ("unsupported_content_type", None, "harmless"),
        ("item_truncate_invalid_item_id", None, "harmless"),
        ("invalid_value", "audio_end_ms", "harmless"),
        ("session_expired", None, "session"),
        ("invalid_api_key", None, "fatal"),
        ("authentication_error", None, "fatal"),
        ("permission_denied", None, "fatal"),
        ("model_not_found", None, "fatal"),
        ("beta_api_shape_disabled", None, "fatal"),
        ("unknown_parameter", "session.modalities", "fatal"),
        ("missing_required_parameter", "session.type", "fatal"),
        ("invalid_value", "session.audio.output.voice", "fatal"),
        ("brand_new_code", None, "harmless"),
        (None, None, "harmless"),
    ],
)
def test_classify_error(code: str | None, param: str | None, severity: str) -> None:
    assert protocol.classify_error(code, param=param) == severity


# ---- truncation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("played_ms", "received_ms", "expected"),
    [
        (0.0, 3000.0, None),  # nothing played yet
        (0.6, 3000.0, None),  # under a millisecond
        (0.0, 0.0, None),  # interrupted before any audio arrived
        (1234.9, 3000.0, 1234),  # partial: floored
        (1.0, 3000.0, 1),
        (2999.4, 3000.0, 2999),  # just short of the end
        (3000.0, 3000.0, None),  # finished: nothing unheard
        (3500.0, 3000.0, None),  # beyond received (clock drift): never past the audio
    ],
)
def test_truncate_point(played_ms: float, received_ms: float, expected: int | None) -> None:
    got = truncate_point(played_ms, received_ms)
    assert got == expected
    if got is not None:
        assert isinstance(got, int) and 1 <= got <= received_ms


# ---- the one-active-response rule --------------------------------------------------------


def test_gate_request_while_idle_sends() -> None:
    gate = ResponseGate()
    assert gate.request() is True
    assert gate.pending is False and gate.busy
    gate.on_created("r1")
    assert gate.active == "r1"
    assert gate.on_done("r1") is False
    assert gate.active is None and not gate.busy


def test_gate_request_while_active_queues_and_done_releases_once() -> None:
    gate = ResponseGate()
    assert gate.request()
    gate.on_created("r1")
    assert gate.request() is False
    assert gate.request() is False  # still one queued request, not two
    assert gate.pending
    assert gate.on_done("r1") is True  # send the queued create now
    assert gate.pending is False
    assert gate.request() is False  # the released create is in flight
    gate.on_created("r2")
    assert gate.on_done("r2") is True  # the request made while in flight
    gate.on_created("r3")
    assert gate.on_done("r3") is False


def test_gate_request_before_created_arrives_is_queued() -> None:
    gate = ResponseGate()
    assert gate.request()
    assert gate.request() is False
    gate.on_created("r1")
    assert gate.on_done("r1") is True


def test_gate_server_created_response_blocks() -> None:
    gate = ResponseGate()
    gate.on_created("r_vad")  # server VAD made a response on its own
    assert gate.active == "r_vad"
    assert gate.request() is False
    assert gate.on_done("r_vad") is True


def test_gate_rejected_active_requeues_until_done() -> None:
    gate = ResponseGate()
    assert gate.request()  # sent, but the server is already running one we have not seen
    gate.on_rejected_active()
    assert gate.pending and not gate.busy
    gate.on_created("r_vad")
    assert gate.on_done("r_vad") is True
    gate.on_created("r_ours")
    assert gate.on_done("r_ours") is False


def test_gate_rejected_active_when_the_running_one_was_known() -> None:
    gate = ResponseGate()
    gate.on_created("r1")
    assert gate.request() is False
    assert gate.on_done("r1") is True
    gate.on_rejected_active()  # a race: the server had started another one
    gate.on_created("r2")
    assert gate.on_done("r2") is True


def test_gate_done_of_another_response_keeps_the_active_one() -> None:
    gate = ResponseGate()
    gate.on_created("r2")
    assert gate.request() is False
    assert gate.on_done("r1") is False  # a stale done
    assert gate.active == "r2" and gate.pending


def test_gate_reset() -> None:
    gate = ResponseGate()
    gate.on_created("r1")
    gate.request()
    gate.reset()
    assert gate.active is None and not gate.pending and not gate.busy
    assert gate.request() is True
