"""Energy-based voice activity detection on the session's input audio timeline (pure).

Contract: feed PCM16 mono 24 kHz bytes with ``feed``; it returns the speech starts and stops
found, in order, with times in ms of audio appended since the session began (the timeline
``input_audio_buffer.speech_started`` / ``speech_stopped`` report). Audio is judged in 10 ms
frames (the VAD window): a frame is voiced when its RMS level is above a level derived from
``threshold`` (0.5 is -40 dBFS; each 0.1 is 6 dB). Speech starts after ``MIN_SPEECH_FRAMES``
voiced frames in a row; it stops after ``silence_duration_ms`` of unvoiced frames.

- ``SpeechStart.audio_start_ms`` is the first voiced frame minus ``prefix_padding_ms``,
  clamped to ``floor_ms`` (the start of the uncommitted buffer).
- ``SpeechStop.audio_end_ms`` is the end of the last voiced frame plus ``silence_duration_ms``:
  the point where the silence was long enough, which is where the real API's value lies too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_MS = 10
BYTES_PER_MS = 48  # PCM16 mono 24 kHz
FRAME_BYTES = FRAME_MS * BYTES_PER_MS
MIN_SPEECH_FRAMES = 2


@dataclass(frozen=True)
class VadParams:
    """server_vad parameters, as in ``session.audio.input.turn_detection``."""

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500

    @property
    def level_dbfs(self) -> float:
        """RMS level (dB full scale) above which a frame counts as voiced."""
        return -70.0 + 60.0 * min(max(self.threshold, 0.0), 1.0)


@dataclass(frozen=True)
class SpeechStart:
    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStop:
    audio_end_ms: int


def frame_dbfs(frame: bytes) -> float:
    """RMS level of PCM16 samples in dBFS (-120 for digital silence)."""
    samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(samples * samples))) / 32768.0
    return 20.0 * float(np.log10(rms)) if rms > 1e-6 else -120.0


class EnergyVad:
    """Stateful detector; one per session. See the module docstring for the contract."""

    def __init__(self, params: VadParams | None = None) -> None:
        self.params = params or VadParams()
        self._pending = b""
        self._frames = 0  # frames judged since the session began
        self._floor_ms = 0
        self._run = 0  # voiced frames in a row (before speech) / unvoiced (during speech)
        self._in_speech = False
        self._last_voiced_end_ms = 0

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    def reset(self, floor_ms: int) -> None:
        """Forget any speech in progress; new speech may not start before ``floor_ms``."""
        self._floor_ms = floor_ms
        self._run = 0
        self._in_speech = False

    def feed(self, pcm: bytes) -> list[SpeechStart | SpeechStop]:
        """Judge the complete 10 ms frames now available; return the transitions found."""
        data = self._pending + pcm
        usable = len(data) - len(data) % FRAME_BYTES
        self._pending = data[usable:]
        events: list[SpeechStart | SpeechStop] = []
        level = self.params.level_dbfs
        for off in range(0, usable, FRAME_BYTES):
            start_ms = self._frames * FRAME_MS
            self._frames += 1
            voiced = frame_dbfs(data[off : off + FRAME_BYTES]) > level
            if not self._in_speech:
                self._run = self._run + 1 if voiced else 0
                if self._run >= MIN_SPEECH_FRAMES:
                    onset = start_ms - (MIN_SPEECH_FRAMES - 1) * FRAME_MS
                    begin = max(self._floor_ms, onset - self.params.prefix_padding_ms)
                    events.append(SpeechStart(audio_start_ms=begin))
                    self._in_speech = True
                    self._run = 0
                    self._last_voiced_end_ms = start_ms + FRAME_MS
            elif voiced:
                self._run = 0
                self._last_voiced_end_ms = start_ms + FRAME_MS
            else:
                self._run += 1
                if self._run * FRAME_MS >= self.params.silence_duration_ms:
                    end = self._last_voiced_end_ms + self.params.silence_duration_ms
                    events.append(SpeechStop(audio_end_ms=end))
                    self._in_speech = False
                    self._run = 0
        return events
