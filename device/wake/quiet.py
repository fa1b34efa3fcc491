"""Is the room quiet? Decides, per 80 ms frame, whether the wake models must run (pure).

The level of each frame (speech band, 250 Hz to 4 kHz, dBFS) is compared with the noise
floor the noise gate's tracker follows (a low percentile of the last seconds). A frame is
*loud* when it is ``open_db`` above the floor and above ``min_dbfs``.

- Idle, the models start when ``start_loud`` of the last ``start_window`` frames were loud
  (2 of 3: a sound of 160 ms or more): a click or a tap never wakes them, a voice (syllable
  after syllable; a wake phrase lasts half a second or more) does. (3 of 4 also skips a
  150 ms door thud, but lost 3 of 64 phrases at 5 dB SNR, where speech is loud only now
  and then: measured on the bench corpus.) They then
  catch up on the frames since the first loud frame of the last ``window_frames`` (``update``
  says how many; a click just before a phrase is in its feature window too), so what they
  score is what they would have scored had they been running all along.
- Running, they go on for ``window_frames`` frames after the last loud frame, so that the
  feature window the models see (about 0.8 s of audio) holds only quiet audio before they
  stop: what they then would have computed is what they computed last.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

from device.audio.gate import BAND_HZ, SILENCE_DB, NoiseGate
from device.audio.settings import GateSettings

_FULL_SCALE_POWER = 32768.0 * 32768.0


class BandMeter:
    """Speech-band level of whole frames of ``frame_samples`` (Hann window, one FFT): the
    gate's measure (``device.audio.gate.speech_level_db``) with its constants made once."""

    def __init__(self, frame_samples: int, rate_hz: int) -> None:
        self.window = np.hanning(frame_samples).astype(np.float32)
        self._lo = int(BAND_HZ[0] * frame_samples / rate_hz)
        self._hi = int(BAND_HZ[1] * frame_samples / rate_hz) + 1
        power = float(np.square(self.window.astype(np.float64)).sum())
        self._scale = frame_samples * power * _FULL_SCALE_POWER / 2.0
        self._work = np.empty(frame_samples, dtype=np.float32)

    def level_db(self, frame: npt.NDArray[np.int16]) -> float:
        work = np.multiply(frame, self.window, out=self._work)
        band = np.fft.rfft(work)[self._lo : self._hi]
        power = float(np.vdot(band, band).real) / self._scale
        return max(SILENCE_DB, 10.0 * float(np.log10(power + 1e-12)))


class QuietTracker:
    """``update(frame) -> int``: how many frames the models must compute now (module
    docstring): 0 (quiet: skip), 1 (this frame), or n > 1 (this one and the n - 1 frames
    before it, skipped so far; n <= ``window_frames``)."""

    def __init__(
        self,
        frame_ms: int,
        window_frames: int,
        open_db: float = 6.0,
        min_dbfs: float = -70.0,
        floor_window_s: float = 4.0,
        rate_hz: int = 16000,
        *,
        start_loud: int = 2,
        start_window: int = 3,
    ) -> None:
        if not 1 <= start_loud <= start_window:
            raise ValueError(f"start_loud {start_loud} must be 1 to start_window {start_window}")
        self.rate_hz = rate_hz
        settings = GateSettings(
            open_db=open_db,
            close_db=open_db,
            min_open_dbfs=min_dbfs,
            attack_ms=0,
            hangover_ms=0,
            floor_window_s=floor_window_s,
        )
        self._gate = NoiseGate(settings, block_ms=frame_ms)
        self._meter = BandMeter(rate_hz * frame_ms // 1000, rate_hz)
        self.window_frames = window_frames
        self.start_loud = start_loud
        self.start_window = start_window
        self.quiet_frames = window_frames + 1  # no loud frame yet: idle
        self._recent: deque[bool] = deque(maxlen=max(start_window, window_frames))

    def reset(self) -> None:
        """Forget the room (noise floor, recent frames): as new, idle."""
        self._gate = NoiseGate(self._gate.settings, block_ms=self._gate.block_ms)
        self.quiet_frames = self.window_frames + 1
        self._recent.clear()

    @property
    def level_db(self) -> float:
        return self._gate.level_db

    @property
    def floor_db(self) -> float:
        return self._gate.floor_db

    @property
    def running(self) -> bool:
        return self.quiet_frames <= self.window_frames

    def update(self, frame: npt.NDArray[np.int16]) -> int:
        loud = self._gate.update(self._meter.level_db(frame))
        recent = self._recent
        recent.append(loud)
        if self.running:
            self.quiet_frames = 0 if loud else self.quiet_frames + 1
            return 1 if self.running else 0
        if sum(list(recent)[-self.start_window :]) < self.start_loud:
            return 0
        flags = list(recent)
        recent.clear()
        self.quiet_frames = flags[::-1].index(True)  # frames since the last loud one
        return len(flags) - flags.index(True)  # this frame and those since the first loud one
