"""The prompt hold: the device's own prompts are not uploaded as the caller's words.

A part of the audio path (device/daemon/audio_path.py). Where the mic carries the
device's own voice (`holds_echo`: ``echo.mode`` reference with the local speech
detector, or ``half_duplex``), a prompt played while the device listens (the AI
disclosure and the consent question as a visit starts, a wake chime, a tool's filler)
would reach the server through the mic, and the server's turn detection would take it
for a caller and have the model answer it. So while a prompt plays, the mic is kept, not
uploaded, as it is while a reply plays, and the local speech detector listens:

- it starts back where the caller's words may already be under way (``from_sample``:
  the end of the wake phrase), so "hey jarvis, what are your hours" in one breath is
  judged from before the prompt's echo reached the mic;
- when it hears the caller (over the prompt or before it), the audio path uploads all it
  kept since the hold began (``from_ms``: the wake phrase's end, or the prompt's start)
  and the upload goes live: the prompt plays on (it is not cut), the caller's words go up
  whole, with the prompt's echo under and before them. Not from the detector's onset: over
  a loud echo whose path it has not learnt yet (the first prompt of the day) it may hear
  the caller only as the prompt ends, and the words before that would be lost;
- when the prompts have played out (and ``TAIL_MS`` more for the echo still in the air)
  with nobody heard, what was kept was the prompt's echo: it is dropped and the upload
  goes live.

In ``half_duplex`` the detector does not run (as over a reply): a caller who talks over a
prompt is not heard. Without a detector in ``reference`` mode nothing is held (the echo
goes up, as before this part existed). Per mic frame while held: one queue length read.

Example::

    hold = PromptHold(speaker, local_vad)
    hold.begin(wake_end_sample, wake_end_ms)  # a prompt was queued while listening
    hold.lapsed(now_ms)                       # each mic frame: True once it ended
    hold.claim()                              # the detector heard the caller
"""

from __future__ import annotations

import math

from device.audio.seam import AudioOutput
from device.daemon.listeners import LocalVad
from device.vad.settings import EchoSettings

TAIL_MS = 250.0
"""After the prompts played out, the hold lasts this much longer: the speaker's own
latency and the room's echo still reach the mic."""


def holds_echo(echo: EchoSettings, has_local_vad: bool) -> bool:
    """Whether the mic carries the device's own voice to the server while it speaks:
    ``echo.judged_mode`` reference with a local detector (it weighs the mic against the
    reply, so the upload is not cancelled), or ``half_duplex``."""
    return echo.mode == "half_duplex" or (has_local_vad and echo.judged_mode == "reference")


class PromptHold:
    """See the module docstring."""

    def __init__(self, speaker: AudioOutput, local_vad: LocalVad | None) -> None:
        self._speaker = speaker
        self._vad = local_vad
        self.held = False  # a prompt plays: the mic is kept, not uploaded
        self.detecting = False  # the local detector runs for this hold (not for a reply)
        self._tail_end_ms: float | None = None
        self.from_ms = -math.inf  # the hold began then (the mic's clock)
        self.holds = 0  # prompts held (one per run of prompts)
        self.claimed = 0  # holds the caller talked through (their words went up)

    def begin(self, from_sample: int | None, from_ms: float) -> None:
        """A prompt was queued while the device does not speak: hold (or hold on) from
        ``from_ms`` (the mic's clock), and start the detector back at ``from_sample`` (its
        samples; None: from the next frame)."""
        self._tail_end_ms = None
        if self.held:
            return
        self.held = True
        self.from_ms = from_ms
        self.holds += 1
        vad = self._vad
        if vad is not None and not vad.active:
            vad.start(playback=None, from_sample=from_sample)  # nothing to pause: it plays on
            self.detecting = vad.active  # (half_duplex: the detector does not start)

    def lapsed(self, now_ms: float) -> bool:
        """Called per mic frame while held: True once the prompts played out and
        ``TAIL_MS`` more went by (the hold is then over: `end` was called)."""
        if self._speaker.queued_ms() > 0:
            self._tail_end_ms = None
            return False
        if self._tail_end_ms is None:
            self._tail_end_ms = now_ms + TAIL_MS
            return False
        if now_ms < self._tail_end_ms:
            return False
        self.end()
        return True

    def claim(self) -> None:
        """The detector heard the caller: the hold is over, the prompt plays on."""
        if self.held:
            self.claimed += 1
        self.end()

    def end(self) -> None:
        """No more hold (played out, claimed, the device speaks, the visitor left, mute)."""
        self.held = False
        self._tail_end_ms = None
        if self.detecting:
            self.detecting = False
            if self._vad is not None:
                self._vad.stop()
