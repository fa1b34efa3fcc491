"""Settings of the Realtime session (the `realtime:` section of the config)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from device.common.options import option

Voice = Literal[
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"
]


@dataclass(frozen=True, kw_only=True)
class ServerVad:
    """The server detects turns by audio energy."""

    type: Literal["server_vad"] = option("server_vad", doc="Server-side voice activity detection.")
    threshold: float = option(0.5, doc="Speech probability to start a turn.", min=0.0, max=1.0)
    prefix_padding_ms: int = option(300, doc="Audio kept before speech start.", min=0, max=2000)
    silence_duration_ms: int = option(
        500, doc="Silence that ends the caller's turn.", min=100, max=5000
    )
    idle_timeout_ms: int | None = option(
        None,
        doc="Server nudges after this much caller silence (null: off).",
        min=5000,
        max=30000,
    )
    create_response: bool = option(True, doc="Answer automatically at end of turn.")
    interrupt_response: bool = option(True, doc="Caller speech cancels a running reply.")


@dataclass(frozen=True, kw_only=True)
class SemanticVad:
    """The server detects turns by what is said."""

    type: Literal["semantic_vad"] = option("semantic_vad", doc="Semantic turn detection.")
    eagerness: Literal["low", "medium", "high", "auto"] = option(
        "auto", doc="How quickly the model decides the caller has finished."
    )
    create_response: bool = option(True, doc="Answer automatically at end of turn.")
    interrupt_response: bool = option(True, doc="Caller speech cancels a running reply.")


@dataclass(frozen=True, kw_only=True)
class NoTurnDetection:
    """The device commits the turn itself (push-to-talk)."""

    type: Literal["none"] = option("none", doc="No server turn detection.")


TurnDetection = ServerVad | SemanticVad | NoTurnDetection


@dataclass(frozen=True, kw_only=True)
class TranscriptionSettings:
    enabled: bool = option(True, doc="Transcribe the caller's speech (needed for logs, tools).")
    model: str = option("gpt-4o-mini-transcribe", doc="Transcription model.", blank=False)
    language: str | None = option(None, doc="ISO-639-1 language hint, e.g. en (null: auto).")
    prompt: str | None = option(None, doc="Vocabulary hint for the transcriber.")


@dataclass(frozen=True, kw_only=True)
class RealtimeSettings:
    url: str = option("wss://api.openai.com/v1/realtime", doc="Realtime WebSocket endpoint.")
    model: str = option("gpt-realtime-2.1", doc="Realtime model.", blank=False)
    api_key_file: Path | None = option(
        None, doc="File holding the API key (mode 0600). Never put the key itself in YAML."
    )
    instructions: str = option(
        "You are a friendly voice assistant at a kiosk. Answer briefly.",
        doc="System instructions for the model.",
    )
    voice: Voice = option("marin", doc="Reply voice.")
    speed: float = option(1.0, doc="Reply speaking speed.", min=0.25, max=1.5)
    turn_detection: TurnDetection = option(ServerVad(), doc="How the end of a turn is found.")
    noise_reduction: Literal["near_field", "far_field", "off"] = option(
        "far_field", doc="Server-side input noise reduction."
    )
    transcription: TranscriptionSettings = option(
        TranscriptionSettings(), doc="Caller speech transcription."
    )
    max_output_tokens: int | None = option(
        None, doc="Cap on reply tokens (null: no cap).", min=1, max=4096
    )
    connect_timeout_s: float = option(
        10.0, doc="Give up a connection attempt after.", min=1, max=120
    )
    reply_stall_s: float = option(
        5.0, doc="A reply that sends nothing for this long is abandoned.", min=1, max=60
    )
    standby: bool = option(
        True, doc="Hold one set-up session while idle, so a visitor waits for no handshake."
    )
    reconnect_base_s: float = option(
        0.25,
        doc="First wait before opening the link again (doubles, full jitter).",
        min=0.05,
        max=10,
    )
    reconnect_cap_s: float = option(
        30.0, doc="Longest wait between attempts when the server fails.", min=1, max=600
    )
    reconnect_budget_s: float = option(
        10.0,
        doc="Mid-conversation: give the new session this long, then end offline.",
        min=1,
        max=120,
    )
    auth_retry_s: float = option(
        300.0,
        doc="A refused key is tried again after this (or at once on a button press).",
        min=10,
        max=86400,
    )
