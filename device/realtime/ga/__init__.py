"""The Realtime GA protocol codec (the one `Codec` today).

Example::

    codec = GaCodec()
    frame = codec.encode(RequestReply(event_id="dev_1"))   # '{"type":"response.create",...}'
    event = codec.decode(frame_from_server)                # ResponseCreated(...), ...
"""

from __future__ import annotations

import json

from device.realtime.commands import LinkCommand
from device.realtime.events import ServerEvent
from device.realtime.ga.decode import decode
from device.realtime.ga.encode import PCM_RATE_HZ, encode_event, event_type


class GaCodec:
    """See device/realtime/codec.py for the contract."""

    audio_rate_hz = PCM_RATE_HZ

    def encode(self, command: LinkCommand) -> str:
        return json.dumps(encode_event(command), separators=(",", ":"), ensure_ascii=False)

    def decode(self, frame: str | bytes) -> ServerEvent:
        return decode(frame)

    def describe(self, command: LinkCommand) -> str:
        return event_type(command)


__all__ = ["PCM_RATE_HZ", "GaCodec"]
