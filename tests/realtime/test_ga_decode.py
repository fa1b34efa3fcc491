"""GA server frames to typed events: every event the device uses, and every bad frame.

`decode` must turn anything a broken or hostile server sends into one `ProtocolError`
(the link skips that frame); any other exception would end the reader.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from device.realtime.codec import ProtocolError
from device.realtime.events import (
    AudioDelta,
    AudioDone,
    ErrorKind,
    FunctionCallDone,
    Ignored,
    InputCommitted,
    InputTranscript,
    InputTranscriptFailed,
    ItemTruncated,
    RateLimits,
    ResponseCreated,
    ResponseDone,
    ServerError,
    SessionCreated,
    SessionUpdated,
    Severity,
    SpeechStarted,
    SpeechStopped,
    TranscriptDelta,
    TranscriptDone,
    TranscriptionUsage,
    Usage,
)
from device.realtime.ga import GaCodec
from device.realtime.ga.decode import decode, load_server_json, parse_server_dict
from tests.openai_schema import assert_server_event

CODEC = GaCodec()

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
        InputTranscript("item_u1", "Where is the pharmacy?", TranscriptionUsage(seconds=1.4)),
    ),
    (
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": "ev_6t",
            "item_id": "item_u2",
            "content_index": 0,
            "transcript": "Thanks.",
            "usage": {
                "type": "tokens",
                "input_tokens": 31,
                "output_tokens": 4,
                "total_tokens": 35,
                "input_token_details": {"audio_tokens": 27, "text_tokens": 4},
            },
        },
        InputTranscript("item_u2", "Thanks.", TranscriptionUsage(31, 4, 27, 4)),
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
                input_cached_text_tokens=64,
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
            kind=ErrorKind.REPLY_BUSY,
            severity=Severity.HARMLESS,
            code="conversation_already_has_active_response",
            message="Conversation already has an active response in progress: resp_1.",
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
            ErrorKind.SESSION_ENDED,
            Severity.SESSION,
            "session_expired",
            "Your session hit the maximum duration of 60 minutes.",
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
            ErrorKind.BAD_SETTINGS,
            Severity.FATAL,
            "invalid_value",
            "Invalid value: 'robot'.",
            param="session.audio.output.voice",
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
    assert CODEC.decode(json.dumps(raw)) == expected
    assert CODEC.decode(json.dumps(raw).encode()) == expected  # a binary frame
    assert parse_server_dict(load_server_json(json.dumps(raw))) == expected


def test_session_created_from_the_live_server_keeps_id_and_expiry() -> None:
    # The live server adds id/expires_at to the session (the openai types do not declare them).
    raw = {
        "type": "session.created",
        "event_id": "ev_1",
        "session": {"type": "realtime", "id": "sess_42", "expires_at": 1760000000},
    }
    assert CODEC.decode(json.dumps(raw)) == SessionCreated("sess_42", 1760000000)


def test_audio_delta_without_content_index_defaults_to_zero() -> None:
    raw = {
        "type": "response.output_audio.delta",
        "response_id": "r",
        "item_id": "i",
        "delta": B64,
    }
    event = CODEC.decode(json.dumps(raw))
    assert isinstance(event, AudioDelta) and event.content_index == 0 and event.pcm == PCM


@pytest.mark.parametrize(
    "raw",
    [
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
    assert CODEC.decode(json.dumps(raw)) == Ignored(raw["type"])


def test_unknown_future_type_is_ignored_not_an_error() -> None:
    raw = {"type": "response.hologram.delta", "event_id": "ev_z", "beam": 3}
    assert CODEC.decode(json.dumps(raw)) == Ignored("response.hologram.delta")


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
        CODEC.decode(text)
    text_of_error = str(info.value)
    assert message in text_of_error
    assert "\n" not in text_of_error
    assert len(text_of_error) < 200  # a sample at most, never the whole payload


def test_unclassified_error_code_is_harmless_other() -> None:
    raw = {
        "type": "error",
        "event_id": "e",
        "error": {"type": "server_error", "code": "brand_new_code", "message": "Something."},
    }
    assert_server_event(raw)
    event = CODEC.decode(json.dumps(raw))
    assert event == ServerError(ErrorKind.OTHER, Severity.HARMLESS, "brand_new_code", "Something.")


def test_error_without_code_uses_its_type() -> None:
    raw = {"type": "error", "event_id": "e", "error": {"type": "server_error", "message": "Oops"}}
    assert_server_event(raw)
    event = CODEC.decode(json.dumps(raw))
    assert isinstance(event, ServerError)
    assert (event.code, event.kind, event.severity) == (
        "server_error",
        ErrorKind.OTHER,
        Severity.HARMLESS,
    )


# ---- hostile frames ------------------------------------------------------------------------

DEEP = 100_000
HUGE = "x" * 10_000_000  # 10 MB
DIGITS = "9" * 5000
SPEECH = '{"type": "input_audio_buffer.speech_started", "item_id": "i", "audio_start_ms": %s}'
DELTA = '{"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "delta": %s}'
DONE = '{"type": "response.done", "response": {"id": "r", "status": "completed", "usage": %s}}'

HOSTILE: list[tuple[str, str | bytes, str]] = [
    # nesting far past the interpreter's recursion limit
    ("deep-array", "[" * DEEP + "]" * DEEP, "nested too deeply"),
    ("deep-unclosed", "[" * DEEP, "nested too deeply"),
    (
        "deep-inside-an-event",
        '{"type": "response.created", "response": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}",
        "nested too deeply",
    ),
    ("deep-bytes", ("[" * DEEP + "]" * DEEP).encode(), "nested too deeply"),
    # integers past Python's int-from-text digit limit
    ("5000-digit-int", SPEECH % DIGITS, "cannot be read"),
    ("5000-digit-negative-int", SPEECH % ("-" + DIGITS), "cannot be read"),
    ("5000-digit-int-in-ignored-event", f'{{"type": "x.y", "n": {DIGITS}}}', "cannot be read"),
    ("5000-digit-int-alone", DIGITS, "cannot be read"),
    # bad UTF-8
    ("bad-utf8-type", b'{"type": "\xff\xfe"}', "not UTF-8 text"),
    (
        "bad-utf8-in-a-field",
        b'{"type": "response.output_audio_transcript.delta", "response_id": "r",'
        b' "item_id": "i", "delta": "caf\xc3("}',
        "not UTF-8 text",
    ),
    ("bad-utf8-cut-sequence", b'{"type": "x", "t": "\xe2\x82', "not UTF-8 text"),
    ("bad-utf8-only", b"\xff" * 10_000, "not UTF-8 text"),
    # floats where integers belong
    ("float-1e999", SPEECH % "1e999", "field 'audio_start_ms' must be an integer, got float"),
    ("float--1e999", SPEECH % "-1e999", "field 'audio_start_ms' must be an integer, got float"),
    ("NaN", SPEECH % "NaN", "field 'audio_start_ms' must be an integer, got float"),
    ("Infinity", SPEECH % "Infinity", "field 'audio_start_ms' must be an integer, got float"),
    (
        "usage-1e999",
        DONE % '{"input_tokens": 1e999}',
        "field 'response.usage.input_tokens' must be an integer, got float",
    ),
    (
        "expires-1e999",
        '{"type": "session.created", "session": {"expires_at": 1e999}}',
        "field 'session.expires_at' must be an integer, got float",
    ),
    # the type field as every other JSON type
    ("type-array", '{"type": ["error"]}', "no 'type' field"),
    ("type-object", '{"type": {"name": "error"}}', "no 'type' field"),
    ("type-null", '{"type": null}', "no 'type' field"),
    ("type-true", '{"type": true}', "no 'type' field"),
    ("type-int", '{"type": 7}', "no 'type' field"),
    ("type-float", '{"type": 1e999}', "no 'type' field"),
    ("type-empty", '{"type": ""}', "no 'type' field"),
    ("type-huge-int", f'{{"type": {DIGITS}}}', "cannot be read"),
    # other fields as the wrong JSON type
    ("response-string", '{"type": "response.created", "response": "r"}', "must be an object"),
    ("session-array", '{"type": "session.created", "session": []}', "must be an object"),
    ("error-number", '{"type": "error", "error": 5}', "must be an object"),
    ("usage-array", DONE % "[1, 2]", "field 'response.usage' must be an object, got array"),
    (
        "cached-details-string",
        DONE % '{"input_token_details": {"cached_tokens_details": "all"}}',
        "field 'response.usage.input_token_details.cached_tokens_details' must be an object",
    ),
    (
        "transcription-seconds-string",
        '{"type": "conversation.item.input_audio_transcription.completed", "item_id": "i",'
        ' "transcript": "t", "usage": {"type": "duration", "seconds": "long"}}',
        "field 'usage.seconds' must be a number, got string",
    ),
    (
        "transcription-seconds-1e999",
        '{"type": "conversation.item.input_audio_transcription.completed", "item_id": "i",'
        ' "transcript": "t", "usage": {"type": "duration", "seconds": 1e999}}',
        "field 'usage.seconds' out of range",
    ),
    (
        "transcription-tokens-float",
        '{"type": "conversation.item.input_audio_transcription.completed", "item_id": "i",'
        ' "transcript": "t", "usage": {"type": "tokens", "input_tokens": 2.5}}',
        "field 'usage.input_tokens' must be an integer, got float",
    ),
    (
        "status-details-string",
        '{"type": "response.done", "response": {"id": "r", "status": "failed",'
        ' "status_details": "boom"}}',
        "field 'response.status_details' must be an object, got string",
    ),
    (
        "item-id-object",
        '{"type": "input_audio_buffer.committed", "item_id": {"id": "i"}}',
        "field 'item_id' must be a string, got object",
    ),
    ("start-ms-bool", SPEECH % "true", "field 'audio_start_ms' must be an integer, got boolean"),
    ("delta-int", DELTA % "5", "field 'delta' must be a string, got int"),
    ("delta-array", DELTA % '["AAAA"]', "field 'delta' must be a string, got array"),
    (
        "content-index-float",
        '{"type": "response.output_audio.delta", "response_id": "r", "item_id": "i",'
        ' "content_index": 1.5, "delta": "AAAA"}',
        "field 'content_index' must be an integer, got float",
    ),
    (
        "error-code-number",
        '{"type": "error", "error": {"code": 401, "message": "no"}}',
        "field 'error.code' must be a string, got int",
    ),
    # huge strings: the message quotes a short sample, never the payload
    ("huge-unterminated-string", '{"type": "' + HUGE, "not valid JSON"),
    ("huge-string-frame", json.dumps(HUGE), "not a JSON object (got str)"),
    ("huge-string-for-an-int", SPEECH % json.dumps(HUGE), "must be an integer, got string"),
    ("huge-not-base64", DELTA % json.dumps(HUGE + "!"), "is not valid base64"),
    ("huge-odd-pcm", DELTA % json.dumps("A" * 4_000_000 + "AA=="), "not whole PCM16 samples"),
    ("huge-whitespace", " " * 10_000_000, "not valid JSON"),
    ("huge-bad-utf8", b'{"type": "' + b"\xff" * 10_000_000 + b'"}', "not UTF-8 text"),
]


@pytest.mark.parametrize(
    ("frame", "message"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_hostile_frames_are_one_protocol_error(frame: str | bytes, message: str) -> None:
    # pytest.raises(ProtocolError) lets any other exception fail the test
    with pytest.raises(ProtocolError) as info:
        CODEC.decode(frame)
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert len(text) < 250  # one short line, never the payload


def test_a_huge_unknown_type_is_ignored_under_a_short_name() -> None:
    event = decode(json.dumps({"type": HUGE}))
    assert isinstance(event, Ignored)
    assert event.name == "x" * 80  # what goes to the log is bounded


def test_a_huge_valid_transcript_arrives_whole() -> None:
    frame = json.dumps(
        {
            "type": "response.output_audio_transcript.delta",
            "response_id": "r",
            "item_id": "i",
            "delta": HUGE,
        }
    )
    assert decode(frame) == TranscriptDelta("r", "i", HUGE)


def test_a_4000_digit_integer_under_the_limit_is_still_an_integer() -> None:
    event = decode(SPEECH % ("1" + "0" * 3999))
    assert isinstance(event, SpeechStarted) and event.audio_start_ms == 10**3999


@pytest.mark.parametrize("escape", ["\\ud83d", "\\ude00", "\\udfff"])
def test_lone_surrogate_escapes_become_replacement_characters(escape: str) -> None:
    # JSON may escape half a surrogate pair; such text cannot be encoded as UTF-8 again,
    # so it would break the frame that restores it after a reconnect (or a log file)
    frame = (
        '{"type": "response.output_audio_transcript.done", "response_id": "r",'
        f' "item_id": "i", "transcript": "Hi {escape} there"}}'
    )
    event = decode(frame)
    assert event == TranscriptDone("r", "i", "Hi \ufffd there")
    unknown = decode(f'{{"type": "x.{escape}"}}')
    assert unknown == Ignored("x.\ufffd")


def test_a_whole_surrogate_pair_is_kept() -> None:
    frame = (
        '{"type": "response.output_audio_transcript.done", "response_id": "r",'
        ' "item_id": "i", "transcript": "ok \\ud83d\\ude00"}'
    )
    assert decode(frame) == TranscriptDone("r", "i", "ok \U0001f600")


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        (
            [{"name": "tokens", "limit": 40000, "remaining": 39000, "reset_seconds": 1.5}],
            RateLimits(None, 0.0),
        ),
        (
            [
                {"name": "requests", "limit": 100, "remaining": 0, "reset_seconds": 7.5},
                {"name": "tokens", "limit": 40000, "remaining": 100, "reset_seconds": 1.0},
            ],
            RateLimits("requests", 7.5),
        ),
    ],
    ids=["room-left", "requests-used-up"],
)
def test_rate_limits_say_which_is_used_up_and_when_it_refills(
    limits: list[dict[str, Any]], expected: RateLimits
) -> None:
    raw = {"type": "rate_limits.updated", "event_id": "ev_r", "rate_limits": limits}
    assert_server_event(raw)
    assert CODEC.decode(json.dumps(raw)) == expected
