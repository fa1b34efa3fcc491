"""The noise gate: decides, block by block, whether someone is speaking (pure).

Contract: cut the audio into short blocks (10 ms), measure each with ``speech_level_db``
and call ``NoiseGate.update(level_db, block_ms)``; it returns whether the gate is open
after that block. No clock: time advances by ``block_ms`` per call.

- Noise floor: a low percentile (``floor_percentile``) of the block levels of the last
  ``floor_window_s``. Speech has gaps, steady machine noise has none, so the floor follows
  the ambient level within a few seconds while a speaker barely moves it.
- Opening: the level stays at least ``open_db`` above the floor (and above
  ``min_open_dbfs``) for ``attack_ms``; a clang shorter than that does not open it.
- Closing (hysteresis): the level stays below ``close_db`` above the floor for
  ``hangover_ms``; any block above that restarts the hangover.

The level is measured in the speech band (250 Hz to 4 kHz) over a 20 ms window (fine enough
that a 100 Hz hum does not leak into the band), so the rumble and hum of a shop floor count
for less than a voice.

Example::

    gate = NoiseGate(GateSettings(), block_ms=10)
    is_open = gate.update(speech_level_db(block, 24000), 10)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from device.audio.settings import GateSettings

SILENCE_DB = -120.0
BAND_HZ = (250.0, 4000.0)
_FLOOR_EVERY = 10  # recompute the percentile every this many blocks (100 ms)

_windows: dict[int, npt.NDArray[np.float32]] = {}


def speech_levels_db(windows: npt.NDArray[np.int16], rate_hz: int) -> npt.NDArray[np.float64]:
    """Speech-band level of each row of ``windows`` (k x n samples), in dB re full scale."""
    k, n = windows.shape
    if k == 0 or n == 0:
        return np.full(k, SILENCE_DB)
    window = _windows.get(n)
    if window is None:
        window = _windows[n] = np.hanning(n).astype(np.float32)
    spectrum = np.fft.rfft(windows.astype(np.float32) * window, axis=1)
    lo = int(BAND_HZ[0] * n / rate_hz)
    hi = min(spectrum.shape[1], int(BAND_HZ[1] * n / rate_hz) + 1)
    band = spectrum[:, lo:hi]
    power = (band.real**2 + band.imag**2).sum(axis=1) * 2.0 / (n * float(np.square(window).sum()))
    levels: npt.NDArray[np.float64] = 10.0 * np.log10(power / (32768.0 * 32768.0) + 1e-12)
    return np.maximum(levels, SILENCE_DB)


def speech_level_db(samples: npt.NDArray[np.int16], rate_hz: int) -> float:
    """Level of one block in the speech band, in dB relative to full scale (about dBFS)."""
    return float(speech_levels_db(samples.reshape(1, -1), rate_hz)[0])


class NoiseGate:
    """See the module docstring."""

    def __init__(self, settings: GateSettings, block_ms: float = 10.0) -> None:
        self.settings = settings
        self.block_ms = block_ms
        size = max(1, round(settings.floor_window_s * 1000.0 / block_ms))
        self._history = np.full(size, np.nan)
        self._filled = 0
        self._next = 0
        self._since_floor = 0
        self.floor_db = SILENCE_DB
        self.level_db = SILENCE_DB
        self.is_open = False
        self._above_ms = 0.0
        self._quiet_ms = 0.0

    @property
    def open_threshold_db(self) -> float:
        s = self.settings
        return max(self.floor_db + s.open_db, s.min_open_dbfs)

    @property
    def close_threshold_db(self) -> float:
        s = self.settings
        return max(self.floor_db + s.close_db, s.min_open_dbfs - (s.open_db - s.close_db))

    def reset(self) -> None:
        """Close the gate; the noise floor (the room) is kept."""
        self.is_open = False
        self._above_ms = 0.0
        self._quiet_ms = 0.0

    def update(self, level_db: float, block_ms: float | None = None) -> bool:
        """Account one block of ``level_db``; True while the gate is open."""
        ms = self.block_ms if block_ms is None else block_ms
        self.level_db = level_db
        self._track_floor(level_db)
        s = self.settings
        if not self.is_open:
            if level_db >= self.open_threshold_db:
                self._above_ms += ms
                if self._above_ms >= s.attack_ms:
                    self.is_open = True
                    self._quiet_ms = 0.0
            elif level_db < self.close_threshold_db:
                self._above_ms = 0.0
        else:
            if level_db >= self.close_threshold_db:
                self._quiet_ms = 0.0
            else:
                self._quiet_ms += ms
                if self._quiet_ms >= s.hangover_ms:
                    self.is_open = False
                    self._above_ms = 0.0
        return self.is_open

    def _track_floor(self, level_db: float) -> None:
        self._history[self._next] = level_db
        self._next = (self._next + 1) % len(self._history)
        self._filled = min(self._filled + 1, len(self._history))
        self._since_floor += 1
        if self._filled < _FLOOR_EVERY or self._since_floor >= _FLOOR_EVERY:
            self._since_floor = 0
            filled = (
                self._history
                if self._filled == len(self._history)
                else self._history[: self._filled]
            )
            self.floor_db = float(np.percentile(filled, self.settings.floor_percentile))
