"""Builders for GA server event payloads and ids (pure, no I/O).

Shapes follow ``openai.types.realtime`` (the tests validate every event against them).
"""

from __future__ import annotations

import copy
import math
from typing import Any

BETA_SESSION_KEYS = (
    "modalities",
    "input_audio_format",
    "output_audio_format",
    "turn_detection",
    "voice",
    "input_audio_transcription",
    "max_response_output_tokens",
    "temperature",
)

CLIENT_EVENT_TYPES = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "response.create",
    "response.cancel",
    "output_audio_buffer.clear",
)

# Fields the live server puts in session.created/updated that the openai types leave out.
LIVE_ONLY_SESSION_FIELDS = ("id", "object", "expires_at")

SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}
PCM24K = {"type": "audio/pcm", "rate": 24000}


class Ids:
    """Sequential ids such as ``event_0301000007`` (session number, then a counter)."""

    def __init__(self, session_no: int) -> None:
        self._tag = f"{session_no % 100:02d}"
        self._n = 0

    def next(self, kind: str) -> str:
        self._n += 1
        return f"{kind}_{self._tag}{self._n:08d}"


class Outbox:
    """One session's server-event stamper: every event gets the next ``event_id``."""

    def __init__(self, ids: Ids) -> None:
        self.ids = ids

    def stamp(self, event: dict[str, Any]) -> dict[str, Any]:
        return {"event_id": self.ids.next("event"), **event}

    def error(
        self,
        code: str | None,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        """An ``error`` event; ``event_id`` names the client event it answers, if any."""
        body = error_body(code, message, type=type, param=param, event_id=event_id)
        return self.stamp({"type": "error", "error": body})


def default_session(model: str) -> dict[str, Any]:
    """The session config a new session starts with (sent in session.created)."""
    return {
        "type": "realtime",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "You are a helpful, witty and friendly assistant.",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "include": None,
        "audio": {
            "input": {
                "format": dict(PCM24K),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(SERVER_VAD_DEFAULTS),
            },
            "output": {"format": dict(PCM24K), "voice": "marin", "speed": 1.0},
        },
    }


def merge_session(config: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Apply a session.update: sent fields replace, ``audio.input``/``output`` merge by key."""
    merged = copy.deepcopy(config)
    for key, value in update.items():
        if key == "model":
            continue  # the model never changes
        if key == "audio" and isinstance(value, dict):
            for side in ("input", "output"):
                if isinstance(value.get(side), dict):
                    merged["audio"][side].update(copy.deepcopy(value[side]))
            continue
        merged[key] = copy.deepcopy(value)
    td = merged["audio"]["input"].get("turn_detection")
    if isinstance(td, dict):
        defaults = (
            SEMANTIC_VAD_DEFAULTS if td.get("type") == "semantic_vad" else SERVER_VAD_DEFAULTS
        )
        merged["audio"]["input"]["turn_detection"] = {**defaults, **td}
    return merged


def error_body(
    code: str | None,
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {"type": type, "code": code, "message": message, "param": param, "event_id": event_id}


def text_tokens(text: str) -> int:
    """A plausible token count for text (about 4 characters per token)."""
    return math.ceil(len(text) / 4) if text else 0


def usage(
    in_audio: int, in_text: int, out_audio: int, out_text: int, cached: int = 0
) -> dict[str, Any]:
    total_in, total_out = in_audio + in_text, out_audio + out_text
    return {
        "total_tokens": total_in + total_out,
        "input_tokens": total_in,
        "output_tokens": total_out,
        "input_token_details": {
            "text_tokens": in_text,
            "audio_tokens": in_audio,
            "image_tokens": 0,
            "cached_tokens": cached,
            "cached_tokens_details": {"text_tokens": cached, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio},
    }


def response_object(
    response_id: str,
    config: dict[str, Any],
    *,
    status: str,
    output: list[dict[str, Any]],
    status_details: dict[str, Any] | None = None,
    usage_: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out = config["audio"]["output"]
    return {
        "object": "realtime.response",
        "id": response_id,
        "status": status,
        "status_details": status_details,
        "output": copy.deepcopy(output),
        "conversation_id": "conv_emulator",
        "output_modalities": list(config.get("output_modalities") or ["audio"]),
        "max_output_tokens": config.get("max_output_tokens", "inf"),
        "audio": {"output": {"format": copy.deepcopy(out["format"]), "voice": out["voice"]}},
        "usage": usage_,
        "metadata": None,
    }


def rate_limits(exhausted: str | None = None, reset_seconds: float = 60.0) -> list[dict[str, Any]]:
    """The limits after a response; ``exhausted`` ("requests", "tokens", "both") at 0 left."""
    limits = [
        {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
        {"name": "tokens", "limit": 800000, "remaining": 795000, "reset_seconds": 0.375},
    ]
    for limit in limits:
        if exhausted in (limit["name"], "both"):
            limit.update(remaining=0, reset_seconds=reset_seconds)
    return limits


def split_words(text: str, parts: int) -> list[str]:
    """Split ``text`` into ``parts`` pieces along word boundaries; they join back to ``text``."""
    if parts <= 1:
        return [text]
    words = text.split(" ")
    pieces = [w + " " for w in words[:-1]] + [words[-1]]
    out = []
    for i in range(parts):
        lo, hi = len(pieces) * i // parts, len(pieces) * (i + 1) // parts
        out.append("".join(pieces[lo:hi]))
    return out
