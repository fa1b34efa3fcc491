"""The protocol boundary: a `Codec` turns device commands into frames and frames into events.

Everything specific to one API's wire format (event type strings, JSON shapes, error codes)
lives behind this interface; the engine, the daemon and the link know only
device/realtime/commands.py and device/realtime/events.py. The GA Realtime codec
(device/realtime/ga/) is the one implementation; another API (e.g. OpenAI's Live API)
would be a second package beside it.

Contract: ``decode`` never raises anything but `ProtocolError`, whatever the frame holds
(bad UTF-8, deep nesting, huge numbers, wrong types): the link skips that one frame.
"""

from __future__ import annotations

from typing import Protocol

from device.realtime.commands import LinkCommand
from device.realtime.events import ServerEvent


class ProtocolError(ValueError):
    """A server frame the codec cannot use; the message is one line naming type and field."""


class Codec(Protocol):
    audio_rate_hz: int
    """PCM16 mono rate of `AppendAudio` and `AudioDelta` audio."""

    def encode(self, command: LinkCommand) -> str:
        """One client frame (text) for ``command``, carrying its ``event_id``."""
        ...

    def decode(self, frame: str | bytes) -> ServerEvent:
        """One server frame to a typed event; `ProtocolError` if it is unusable."""
        ...

    def describe(self, command: LinkCommand) -> str:
        """A short name of the frame ``command`` becomes (for log lines)."""
        ...
