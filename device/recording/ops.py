"""The file operations a conversation's record asks of the writer (device/recording/
conversation_record.py makes them, writer.py carries them out), and the names they use.

Every name is checked against `SAFE_NAME` before it is written: no separator, no leading
dot, so nothing lands outside the conversation's folder.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

TRANSCRIPT = "conversation.jsonl"
SAMPLE_RATE_HZ = 24000
BYTES_PER_MS = SAMPLE_RATE_HZ * 2 // 1000  # PCM16 mono
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
"""A name the recorder writes: no separator, no leading dot (never outside its folder)."""


@dataclass(frozen=True, slots=True)
class Begin:
    folder: str


@dataclass(frozen=True, slots=True)
class Line:
    text: str  # one JSON object, no newline


@dataclass(frozen=True, slots=True)
class OpenAudio:
    name: str


@dataclass(frozen=True, slots=True)
class AppendAudio:
    name: str
    pcm: bytes


@dataclass(frozen=True, slots=True)
class CloseAudio:
    name: str
    keep_bytes: int | None = None  # cut the file to this much audio (None: keep it all)


@dataclass(frozen=True, slots=True)
class DeleteAudio:
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Finish:
    pass


Op = Begin | Line | OpenAudio | AppendAudio | CloseAudio | DeleteAudio | Finish


def iso_time(wall_s: float) -> str:
    """UTC, ISO 8601 with milliseconds: ``2025-06-01T10:15:02.125Z``."""
    moment = dt.datetime.fromtimestamp(wall_s, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def folder_name(wall_s: float, conversation_id: str) -> str:
    """``20250601T101502.125Z-conv-3``: sorts by time, unique across restarts (the
    conversation ids count from 1 again), and safe (nothing but letters, digits, ``-_.``)."""
    moment = dt.datetime.fromtimestamp(wall_s, dt.UTC)
    stamp = moment.strftime("%Y%m%dT%H%M%S") + f".{moment.microsecond // 1000:03d}Z"
    cid = re.sub(r"[^A-Za-z0-9_-]", "_", conversation_id)[:40] or "conversation"
    return f"{stamp}-{cid}"
