"""The noise gate: decides, block by block, whether someone is speaking (pure).

Contract: cut the audio into short blocks (10 ms), measure each with ``speech_level_db``
(a stream: ``SpeechMeter`` over overlapping windows) and call
``NoiseGate.update(level_db, block_ms)``; it returns whether the gate is open after that
block. No clock: time advances by ``block_ms`` per call.

- Noise floor: a low percentile (``floor_percentile``) of the block levels of the last
  ``floor_window_s`` (kept sorted as they come; recomputed every 100 ms). Speech has gaps,
  steady machine noise has none, so the floor follows the ambient level within a few
  seconds while a speaker barely moves it.
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

from bisect import bisect_left, insort
from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt

from device.audio.settings import GateSettings

SILENCE_DB = -120.0
BAND_HZ = (250.0, 4000.0)
_FLOOR_EVERY = 10  # recompute the percentile every this many blocks (100 ms)
_FULL_SCALE_POWER = 32768.0 * 32768.0
# float32 constants of the meter's arithmetic (as numpy would convert the Python floats)
_TINY, _TEN, _SILENCE = np.float32(1e-12), np.float32(10.0), np.float32(SILENCE_DB)


class SpeechMeter:
    """Speech-band level of windows of ``window_samples`` at ``rate_hz`` (the gate's meter).

    Everything that does not depend on the audio (Hann window, band bins, scale, the work
    buffers) is made once. ``levels_db(windows)`` takes float32 rows (k x window_samples),
    already converted from int16: the caller converts each sample once and may pass a
    strided view of overlapping windows. The result is a fresh array.
    """

    def __init__(self, window_samples: int, rate_hz: int) -> None:
        n = window_samples
        self.window_samples = n
        self.rate_hz = rate_hz
        self.window = np.hanning(n).astype(np.float32)
        self._lo = int(BAND_HZ[0] * n / rate_hz)
        self._hi = max(self._lo, min(n // 2 + 1, int(BAND_HZ[1] * n / rate_hz) + 1))
        # power re full scale = 2 * sum|X|^2 / (n * sum(w^2)) / 32768^2, as one float32
        # division by a float32 constant (the same result: powers of two scale exactly)
        denominator = float(np.float32(n * float(np.square(self.window).sum())))
        self._scale = np.float32(denominator * _FULL_SCALE_POWER / 2.0)
        self._views: dict[int, tuple[npt.NDArray[Any], ...]] = {}

    def _views_for(self, k: int) -> tuple[npt.NDArray[Any], ...]:
        """Work buffers for ``k`` windows, made on first use."""
        views = self._views.get(k)
        if views is None:
            n, bins = self.window_samples, self._hi - self._lo
            work = np.empty((k, n), dtype=np.float32)
            spectrum = np.empty((k, n // 2 + 1), dtype=np.complex64)
            parts = spectrum[:, self._lo : self._hi].view(np.float32)  # re, im, re, im...
            squares = np.empty((k, 2 * bins), dtype=np.float32)
            bin_power = np.empty((k, bins), dtype=np.float32)
            views = (work, spectrum, parts, squares, squares[:, 0::2], squares[:, 1::2], bin_power)
            self._views[k] = views
        return views

    def levels_db(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The level of each row of ``windows``, in dB re full scale (about dBFS)."""
        k = windows.shape[0]
        if k == 0 or self.window_samples == 0:
            return np.full(k, SILENCE_DB, dtype=np.float32)
        work, spectrum, parts, squares, re2, im2, bin_power = self._views_for(k)
        np.multiply(windows, self.window, out=work)
        np.fft.rfft(work, axis=1, out=spectrum)
        np.multiply(parts, parts, out=squares)
        np.add(re2, im2, out=bin_power)  # |X|^2 per bin of the band
        levels: npt.NDArray[np.float32] = np.add.reduce(bin_power, axis=1)  # the band's power
        np.divide(levels, self._scale, out=levels)  # re full scale
        np.add(levels, _TINY, out=levels)
        np.log10(levels, out=levels)
        np.multiply(levels, _TEN, out=levels)
        return np.maximum(levels, _SILENCE, out=levels)


_meters: dict[tuple[int, int], SpeechMeter] = {}


def speech_levels_db(windows: npt.NDArray[np.int16], rate_hz: int) -> npt.NDArray[np.float32]:
    """Speech-band level of each row of ``windows`` (k x n int16 samples), in dB re full scale."""
    n = windows.shape[1]
    meter = _meters.get((n, rate_hz))
    if meter is None:
        meter = _meters[(n, rate_hz)] = SpeechMeter(n, rate_hz)
    return meter.levels_db(windows.astype(np.float32))


def speech_level_db(samples: npt.NDArray[np.int16], rate_hz: int) -> float:
    """Level of one block in the speech band, in dB relative to full scale (about dBFS)."""
    return float(speech_levels_db(samples.reshape(1, -1), rate_hz)[0])


def percentile_of_sorted(values: list[float], percentile: float) -> float:
    """``np.percentile(values, percentile)`` (linear method, same arithmetic) of sorted values.

    Ascending ``values``, not empty; no NaN.
    """
    n = len(values)
    virtual = (n - 1) * (percentile / 100)
    if virtual >= n - 1:
        return values[-1]
    below = int(virtual // 1)
    a, b = values[below], values[below + 1]
    t = virtual - below
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


class NoiseGate:
    """See the module docstring. ``floor_db`` and the thresholds (dBFS) are read-only."""

    def __init__(self, settings: GateSettings, block_ms: float = 10.0) -> None:
        self.settings = settings
        self.block_ms = block_ms
        self._size = max(1, round(settings.floor_window_s * 1000.0 / block_ms))
        self._recent: deque[float] = deque()  # the window's levels, oldest first
        self._sorted: list[float] = []  # the same levels, ascending
        self._since_floor = 0
        self.level_db = SILENCE_DB
        self.is_open = False
        self._above_ms = 0.0
        self._quiet_ms = 0.0
        self._set_floor(SILENCE_DB)

    def _set_floor(self, floor_db: float) -> None:
        s = self.settings
        self.floor_db = floor_db
        self.open_threshold_db = max(floor_db + s.open_db, s.min_open_dbfs)
        self.close_threshold_db = max(
            floor_db + s.close_db, s.min_open_dbfs - (s.open_db - s.close_db)
        )

    def reset(self) -> None:
        """Close the gate; the noise floor (the room) is kept."""
        self.is_open = False
        self._above_ms = 0.0
        self._quiet_ms = 0.0

    def update(self, level_db: float, block_ms: float | None = None) -> bool:
        """Account one block of ``level_db``; True while the gate is open."""
        ms = self.block_ms if block_ms is None else block_ms
        self.level_db = level_db
        # the floor: the window's levels kept in order of arrival and sorted
        recent, ordered = self._recent, self._sorted
        if len(recent) == self._size:
            del ordered[bisect_left(ordered, recent.popleft())]
        recent.append(level_db)
        insort(ordered, level_db)
        self._since_floor += 1
        if len(recent) < _FLOOR_EVERY or self._since_floor >= _FLOOR_EVERY:
            self._since_floor = 0
            self._set_floor(percentile_of_sorted(ordered, self.settings.floor_percentile))
        if not self.is_open:
            if level_db >= self.open_threshold_db:
                self._above_ms += ms
                if self._above_ms >= self.settings.attack_ms:
                    self.is_open = True
                    self._quiet_ms = 0.0
            elif level_db < self.close_threshold_db:
                self._above_ms = 0.0
        elif level_db >= self.close_threshold_db:
            self._quiet_ms = 0.0
        else:
            self._quiet_ms += ms
            if self._quiet_ms >= self.settings.hangover_ms:
                self.is_open = False
                self._above_ms = 0.0
        return self.is_open
