"""Device commands to GA client events (plain dicts; pure).

Example::

    encode_event(RequestReply(event_id="dev_3"))   # {"type": "response.create", "event_id": ...}
"""

from __future__ import annotations

import base64
from typing import Any

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
from device.realtime.settings import NoTurnDetection, SemanticVad, ServerVad
from device.tools.base import ToolSpec

PCM_RATE_HZ = 24000
"""The only PCM rate the GA API speaks (PCM16 mono little-endian)."""


def _pcm_format() -> dict[str, Any]:
    return {"type": "audio/pcm", "rate": PCM_RATE_HZ}


def _turn_detection(td: ServerVad | SemanticVad | NoTurnDetection) -> dict[str, Any] | None:
    match td:
        case ServerVad():
            out: dict[str, Any] = {
                "type": "server_vad",
                "threshold": td.threshold,
                "prefix_padding_ms": td.prefix_padding_ms,
                "silence_duration_ms": td.silence_duration_ms,
                "create_response": td.create_response,
                "interrupt_response": td.interrupt_response,
            }
            if td.idle_timeout_ms is not None:
                out["idle_timeout_ms"] = td.idle_timeout_ms
            return out
        case SemanticVad():
            return {
                "type": "semantic_vad",
                "eagerness": td.eagerness,
                "create_response": td.create_response,
                "interrupt_response": td.interrupt_response,
            }
        case _:
            return None


def tool_declaration(tool: ToolSpec) -> dict[str, Any]:
    """A neutral tool as a GA function declaration."""
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": dict(tool.parameters),
    }


def session_update(spec: SessionSpec) -> dict[str, Any]:
    """The GA `session.update` for a session spec (never the model: it cannot change)."""
    rt = spec.realtime
    td = spec.turn_detection if spec.turn_detection is not None else rt.turn_detection
    audio_in: dict[str, Any] = {
        "format": _pcm_format(),
        "turn_detection": _turn_detection(td),
        "noise_reduction": (None if rt.noise_reduction == "off" else {"type": rt.noise_reduction}),
    }
    tr = rt.transcription
    if tr.enabled:
        transcription: dict[str, Any] = {"model": tr.model}
        if tr.language is not None:
            transcription["language"] = tr.language
        if tr.prompt is not None:
            transcription["prompt"] = tr.prompt
        audio_in["transcription"] = transcription
    instructions = rt.instructions
    if spec.extra_instructions:
        instructions = (
            f"{instructions}\n\n{spec.extra_instructions}"
            if instructions
            else spec.extra_instructions
        )
    session: dict[str, Any] = {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": audio_in,
            "output": {"format": _pcm_format(), "voice": rt.voice, "speed": rt.speed},
        },
        "instructions": instructions,
    }
    if spec.tools:
        session["tools"] = [tool_declaration(tool) for tool in spec.tools]
        session["tool_choice"] = "auto"
    if rt.max_output_tokens is not None:
        session["max_output_tokens"] = rt.max_output_tokens
    return {"type": "session.update", "session": session}


def _body(command: LinkCommand) -> dict[str, Any]:
    match command:
        case UpdateSession(spec=spec):
            return session_update(spec)
        case AppendAudio(pcm=pcm):
            return {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(pcm).decode("ascii"),
            }
        case CommitInput():
            return {"type": "input_audio_buffer.commit"}
        case ClearInput():
            return {"type": "input_audio_buffer.clear"}
        case RequestReply():
            return {"type": "response.create"}
        case CancelReply():
            return {"type": "response.cancel"}
        case SendToolOutput(call_id=call_id, output=output):
            return {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": call_id, "output": output},
            }
        case Truncate(item_id=item_id, audio_end_ms=end_ms, content_index=index):
            return {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": index,
                "audio_end_ms": int(end_ms),
            }
        case AddTextItem(role=role, text=text):
            content_type = "input_text" if role == "user" else "output_text"
            return {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": role,
                    "content": [{"type": content_type, "text": text}],
                },
            }
    raise TypeError(f"not a link command: {command!r}")


def encode_event(command: LinkCommand) -> dict[str, Any]:
    """The GA client event for ``command``, with its ``event_id`` when it has one."""
    body = _body(command)
    if command.event_id:
        body["event_id"] = command.event_id
    return body


def event_type(command: LinkCommand) -> str:
    """The GA type the command becomes, without building its body (for log lines)."""
    return _TYPES[type(command)]


_TYPES: dict[type, str] = {
    UpdateSession: "session.update",
    AppendAudio: "input_audio_buffer.append",
    CommitInput: "input_audio_buffer.commit",
    ClearInput: "input_audio_buffer.clear",
    RequestReply: "response.create",
    CancelReply: "response.cancel",
    SendToolOutput: "conversation.item.create",
    Truncate: "conversation.item.truncate",
    AddTextItem: "conversation.item.create",
}
