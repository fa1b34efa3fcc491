"""GA client events: every link command's wire dict, validated against the openai types."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from device.realtime.commands import (
    AddTextItem,
    AppendAudio,
    CancelReply,
    ClearInput,
    CommitInput,
    LinkCommand,
    RequestReply,
    SendToolOutput,
    SessionSpec,
    Truncate,
    UpdateSession,
)
from device.realtime.ga import GaCodec
from device.realtime.ga.encode import encode_event, session_update, tool_declaration
from device.realtime.settings import (
    NoTurnDetection,
    RealtimeSettings,
    SemanticVad,
    ServerVad,
    TranscriptionSettings,
)
from device.tools.base import ToolSpec
from tests.openai_schema import assert_client_event

CODEC = GaCodec()

HOURS = ToolSpec(
    name="opening_hours",
    description="Opening hours of the shop on a given day.",
    parameters={
        "type": "object",
        "properties": {"day": {"type": "string"}},
        "required": ["day"],
    },
)
HOURS_DECLARATION = {
    "type": "function",
    "name": "opening_hours",
    "description": "Opening hours of the shop on a given day.",
    "parameters": {
        "type": "object",
        "properties": {"day": {"type": "string"}},
        "required": ["day"],
    },
}
HANDOVER = ToolSpec(
    name="call_staff",
    description="Call a member of staff to the kiosk.",
    parameters={"type": "object", "properties": {}},
)


def _frame(command: LinkCommand) -> dict[str, Any]:
    """The event ``command`` becomes: valid for the real API, the same as dict and as text."""
    event = encode_event(command)
    assert_client_event(event)
    assert json.loads(CODEC.encode(command)) == event
    assert CODEC.describe(command) == event["type"]
    return event


def _session(spec: SessionSpec) -> dict[str, Any]:
    event = _frame(UpdateSession(spec))
    assert event["type"] == "session.update"
    assert "model" not in event["session"]  # the model cannot change within a session
    assert session_update(spec) == event
    return event["session"]


# ---- session.update -----------------------------------------------------------------------


def test_session_update_defaults_server_vad() -> None:
    s = _session(SessionSpec(RealtimeSettings()))
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
    assert s["instructions"] == RealtimeSettings().instructions
    assert "tools" not in s and "tool_choice" not in s and "max_output_tokens" not in s


def test_the_codec_rate_is_the_rate_it_declares() -> None:
    s = _session(SessionSpec(RealtimeSettings()))
    assert CODEC.audio_rate_hz == 24000
    assert s["audio"]["input"]["format"]["rate"] == CODEC.audio_rate_hz
    assert s["audio"]["output"]["format"]["rate"] == CODEC.audio_rate_hz


SessionCheck = Callable[[dict[str, Any], str], bool]


@pytest.mark.parametrize(
    ("rt", "check"),
    [
        pytest.param(
            RealtimeSettings(
                turn_detection=ServerVad(
                    threshold=0.8, silence_duration_ms=900, idle_timeout_ms=8000
                )
            ),
            lambda s, _: (
                s["audio"]["input"]["turn_detection"]["idle_timeout_ms"] == 8000
                and s["audio"]["input"]["turn_detection"]["threshold"] == 0.8
            ),
            id="server_vad-idle-timeout",
        ),
        pytest.param(
            RealtimeSettings(turn_detection=SemanticVad(eagerness="low", interrupt_response=False)),
            lambda s, _: (
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
            lambda s, frame: (
                s["audio"]["input"]["turn_detection"] is None and '"turn_detection":null' in frame
            ),
            id="no-turn-detection-is-null",
        ),
        pytest.param(
            RealtimeSettings(noise_reduction="off"),
            lambda s, frame: (
                s["audio"]["input"]["noise_reduction"] is None and '"noise_reduction":null' in frame
            ),
            id="noise-reduction-off",
        ),
        pytest.param(
            RealtimeSettings(noise_reduction="near_field"),
            lambda s, _: s["audio"]["input"]["noise_reduction"] == {"type": "near_field"},
            id="noise-reduction-near",
        ),
        pytest.param(
            RealtimeSettings(
                transcription=TranscriptionSettings(language="de", prompt="Brezel, Semmel")
            ),
            lambda s, _: (
                s["audio"]["input"]["transcription"]
                == {"model": "gpt-4o-mini-transcribe", "language": "de", "prompt": "Brezel, Semmel"}
            ),
            id="transcription-language-prompt",
        ),
        pytest.param(
            RealtimeSettings(transcription=TranscriptionSettings(enabled=False)),
            lambda s, _: "transcription" not in s["audio"]["input"],
            id="transcription-off",
        ),
        pytest.param(
            RealtimeSettings(max_output_tokens=300),
            lambda s, _: s["max_output_tokens"] == 300,
            id="max-output-tokens",
        ),
        pytest.param(
            RealtimeSettings(voice="cedar", speed=1.25),
            lambda s, _: (
                s["audio"]["output"]["voice"] == "cedar" and s["audio"]["output"]["speed"] == 1.25
            ),
            id="voice-speed",
        ),
    ],
)
def test_session_update_variants(rt: RealtimeSettings, check: SessionCheck) -> None:
    spec = SessionSpec(rt)
    assert check(_session(spec), CODEC.encode(UpdateSession(spec)))


def test_session_update_with_tools_and_extra_instructions() -> None:
    rt = RealtimeSettings(instructions="Be brief.")
    s = _session(SessionSpec(rt, tools=(HOURS,), extra_instructions="Read numbers back."))
    assert s["tools"] == [HOURS_DECLARATION]
    assert s["tool_choice"] == "auto"
    assert s["instructions"] == "Be brief.\n\nRead numbers back."


def test_extra_instructions_alone_have_no_leading_blank_line() -> None:
    s = _session(SessionSpec(RealtimeSettings(instructions=""), extra_instructions="Be kind."))
    assert s["instructions"] == "Be kind."


def test_tools_keep_their_order() -> None:
    s = _session(SessionSpec(RealtimeSettings(), tools=(HOURS, HANDOVER)))
    assert [tool["name"] for tool in s["tools"]] == ["opening_hours", "call_staff"]


def test_tool_declaration_from_a_tool_spec() -> None:
    declaration = tool_declaration(HOURS)
    assert declaration == HOURS_DECLARATION
    declaration["parameters"]["required"] = []  # the wire dict is a copy...
    assert HOURS.parameters["required"] == ["day"]  # ...the spec is untouched


def test_turn_detection_override_replaces_the_configured_one() -> None:
    # push-to-talk: while the button is held the device commits turns itself
    rt = RealtimeSettings(turn_detection=ServerVad(silence_duration_ms=900))
    held = _session(SessionSpec(rt, turn_detection=NoTurnDetection()))
    assert held["audio"]["input"]["turn_detection"] is None
    semantic = _session(SessionSpec(rt, turn_detection=SemanticVad(eagerness="high")))
    assert semantic["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    configured = _session(SessionSpec(rt))
    assert configured["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 900


def test_session_update_carries_its_event_id() -> None:
    event = _frame(UpdateSession(SessionSpec(RealtimeSettings()), event_id="dev_1"))
    assert event["event_id"] == "dev_1"


# ---- the other commands -------------------------------------------------------------------

COMMANDS: list[tuple[LinkCommand, dict[str, Any]]] = [
    (
        AppendAudio(b"\x01\x00\xff\x7f"),
        {"type": "input_audio_buffer.append", "audio": "AQD/fw=="},
    ),
    (CommitInput(), {"type": "input_audio_buffer.commit"}),
    (ClearInput(), {"type": "input_audio_buffer.clear"}),
    (RequestReply(), {"type": "response.create"}),
    (CancelReply(), {"type": "response.cancel"}),
    (
        SendToolOutput("call_1", '{"open":"9-17"}'),
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
        Truncate("item_9", 1234),
        {
            "type": "conversation.item.truncate",
            "item_id": "item_9",
            "content_index": 0,
            "audio_end_ms": 1234,
        },
    ),
    (
        AddTextItem("user", "Where is the pharmacy?"),
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
        AddTextItem("assistant", "Second floor."),
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Second floor."}],
            },
        },
    ),
]
IDS = [f"{type(c).__name__}-{i}" for i, (c, _) in enumerate(COMMANDS)]


@pytest.mark.parametrize(("command", "expected"), COMMANDS, ids=IDS)
def test_commands_become_ga_events(command: LinkCommand, expected: dict[str, Any]) -> None:
    assert _frame(command) == expected  # no event_id: none on the wire


@pytest.mark.parametrize(("command", "expected"), COMMANDS, ids=IDS)
def test_event_id_is_carried(command: LinkCommand, expected: dict[str, Any]) -> None:
    stamped = dataclasses.replace(command, event_id="dev_7")
    assert _frame(stamped) == {**expected, "event_id": "dev_7"}


def test_every_command_kind_is_covered() -> None:
    kinds = {type(command) for command, _ in COMMANDS} | {UpdateSession}
    assert kinds == set(LinkCommand.__args__)


def test_truncate_audio_end_is_whole_ms_with_content_index() -> None:
    event = _frame(Truncate("item_9", 1234, content_index=1))
    assert (event["audio_end_ms"], event["content_index"]) == (1234, 1)


def test_encode_is_compact_and_keeps_unicode() -> None:
    text = CODEC.encode(AddTextItem("user", "Grüß Gott"))
    assert " " not in text.replace("Grüß Gott", "")
    assert "Grüß Gott" in text
    assert json.loads(text)["item"]["content"][0]["text"] == "Grüß Gott"


def test_the_openai_schema_check_can_fail() -> None:
    # guards the guard: a beta-shape field must be refused by the validator we rely on
    event = encode_event(UpdateSession(SessionSpec(RealtimeSettings())))
    event["session"]["modalities"] = ["audio"]
    with pytest.raises(AssertionError):
        assert_client_event(event)
