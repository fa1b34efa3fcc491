"""The audio input/output seam: what the daemon needs from a microphone and a speaker.

File implementations (device/audio/wav.py) and sound-card implementations (PyAudio)
both fit it, so the daemon, the demo and the tests run the same code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Protocol

import numpy as np

from device.audio.frames import AudioFrame


class AudioInput(Protocol):
    """A source of captured frames.

    ``frames()`` yields frames as they are captured and ends only when the source is
    exhausted (a file); a sound card yields until ``close()``. It never blocks the
    event loop: capture runs in its own thread and hands frames over through
    ``loop.call_soon_threadsafe`` into a bounded queue.
    """

    overflows: int  # frames dropped because the reader fell behind (0 for a file)

    def frames(self) -> AsyncIterator[AudioFrame]: ...

    async def close(self) -> None: ...


class AudioOutput(Protocol):
    """A speaker that plays 24 kHz mono PCM16 replies and keeps the playback clock.

    Audio is queued per item: ``write`` never blocks. ``heard_ms(item_id)`` is how many ms
    of that item have really come out of the speaker: not what waits in the jitter buffer,
    not what sits in the card's own buffer (``played_ms`` is the same clock, by its older
    name). ``flush()`` returns at once, silences the speaker within one buffer period and
    drops everything queued; right after it, ``heard_ms`` already says where the sound will
    stop (what the card still holds plays out and cannot be taken back): the truncation
    point. ``received_ms(item_id)`` is how much was written for the item (truncation is
    clamped to it). Barge-in, in order::

        speaker.flush()
        end_ms = truncate_point(speaker.heard_ms(item), speaker.received_ms(item))
    """

    underflows: int  # times playback ran dry while audio was due (0 for a file)
    # what is played, as it leaves for the card: (mono int16 samples, rate Hz, the loop-clock
    # second it starts sounding); the echo reference of `reference` mode (None: nobody)
    on_played: Callable[[np.ndarray, int, float], None] | None

    def write(self, item_id: str, pcm: bytes) -> None: ...

    def flush(self) -> None: ...

    def hold(self, max_ms: float) -> None:
        """Pause at once, for at most ``max_ms`` (a suspected barge-in); thread-safe."""
        ...

    def resume(self) -> None:
        """Go on after a `hold` (nobody cut in); thread-safe."""
        ...

    def forget(self, keep: set[str] | None = None) -> None:
        """Drop the playback clock's per-item counts (all but ``keep``)."""
        ...

    def heard_ms(self, item_id: str) -> float: ...

    def received_ms(self, item_id: str) -> float: ...

    def played_ms(self, item_id: str) -> float: ...

    def queued_ms(self) -> float:
        """Audio written but not yet played, in ms (0 when idle)."""
        ...

    async def wait_idle(self) -> None:
        """Return once everything written so far has been played."""
        ...

    async def close(self) -> None: ...
