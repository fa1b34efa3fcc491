"""The device's own voice in its microphone: the playback reference and the echo it leaves (pure).

Used by the ``reference`` echo mode. Both streams are placed on the microphone's 16 kHz
sample clock: ``add_mic(samples, at_sample)`` with the mic's own index and
``add_played(samples, at_sample)`` with the mic index at which that audio left the speaker
(the adapter converts the speaker's DAC time). Both are kept in sample rings; the echo
path is measured on the power of 10 ms blocks: a room's echo (and a resampling sound path)
smears phase but not the envelope.

Every ``estimate_every_ms`` of microphone audio while the device plays, the echo path is
measured again over the last ``analysis_ms`` (``EchoPath``, device/vad/echo_path.py): its
delay is the lag (0..``max_delay_ms``) at which the mic's envelope follows the reference's
best, and its power gain the median of mic/reference power over the loud blocks at that
lag (the caller's occasional speech does not move a median much). Until a delay is found
the estimate is the loudest reference block anywhere in the delay range (and the tail)
times the most the mic can have heard of it at that lag (``EchoPath.ceiling``): at full
level (gain 1, echo as loud as the playback) until the first ~1 s of the first reply has
been heard, then near nothing on a mic that does not hear the speaker, so a caller there
is judged as if nothing played.

``echo_level_db(start, end)`` is the estimated echo level (dBFS) in mic[start:end]: the
reference power at the delay, the loudest of the blocks within 40 ms of it (the delay
wanders), and the ``tail_ms`` before at half power (a room keeps ringing).

``suppress(window, start, margin_db)`` takes the echo out of a mic window, once the delay is
known: per frequency, the reference's magnitude at the delay (the loudest within 40 ms of
it), times the gain and ``margin_db`` more (under 250 Hz, 30 dB more still), is subtracted
from the mic's; what is left (the caller, a door, a cough) is resynthesised with the mic's
phase. Where nothing played, the window is left as the mic heard it. The speech model then
judges what the echo does not explain.

Example::

    echo = EchoReference()
    echo.add_played(reply_16k, at_sample=mic_index_now + 800)
    echo.add_mic(frame_16k, at_sample=mic_index)
    echo.echo_level_db(mic_index, mic_index + 512)
"""

from __future__ import annotations

import functools
import math

import numpy as np

from device.vad.echo_path import SLACK as _SLACK
from device.vad.echo_path import EchoPath

RATE_HZ = 16000
BLOCK = 160  # 10 ms
_FLOOR = 1e-12  # power (of float samples in [-1, 1]) below -120 dBFS
_SILENT = 1e-9  # reference power (-90 dBFS) under which nothing can echo above the floor


def power_db(power: float) -> float:
    return 10.0 * math.log10(max(power, _FLOOR))


def as_float(samples: np.ndarray) -> np.ndarray:
    """int16 (or float) samples as float32 in [-1, 1]."""
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    return samples.astype(np.float32, copy=False)


def _ring_slices(size: int, first: int, last: int) -> tuple[slice, slice]:
    """The ring positions of absolute indices first..last-1 (last - first <= size), as
    one or two slices (the second empty unless the span wraps)."""
    i = first % size
    j = i + (last - first)
    if j <= size:
        return slice(i, j), slice(0, 0)
    return slice(i, size), slice(0, j - size)


def _ring_get(ring: np.ndarray, first: int, last: int) -> np.ndarray:
    a, b = _ring_slices(len(ring), first, last)
    return ring[a] if b.stop == 0 else np.concatenate([ring[a], ring[b]])


def _ring_put(ring: np.ndarray, first: int, values: np.ndarray) -> None:
    a, b = _ring_slices(len(ring), first, first + len(values))
    n = a.stop - a.start
    ring[a] = values[:n]
    ring[b] = values[n:]


def _put(ring: np.ndarray, data: np.ndarray, at_sample: int) -> None:
    """Write samples at absolute index ``at_sample`` (more than a lap: the newest lap)."""
    keep = min(len(data), len(ring))
    _ring_put(ring, at_sample + len(data) - keep, data[len(data) - keep :])


def _block_power(ring: np.ndarray, first: int, last: int) -> np.ndarray:
    """Mean power of 10 ms blocks first..last-1 of a sample ring (float64)."""
    x = _ring_get(ring, first * BLOCK, last * BLOCK).reshape(-1, BLOCK)
    return np.einsum("ij,ij->i", x, x, dtype=np.float64) / BLOCK


def _zero(ring: np.ndarray, first: int, last: int) -> None:
    """Zero ring samples first..last-1 (at most a whole lap)."""
    first = max(first, last - len(ring))
    if last > first:
        a, b = _ring_slices(len(ring), first, last)
        ring[a] = 0.0
        ring[b] = 0.0


class EchoReference:
    """See the module docstring."""

    def __init__(
        self,
        *,
        max_delay_ms: int = 400,
        history_s: float = 8.0,
        analysis_ms: int = 2000,
        estimate_every_ms: int = 250,
        tail_ms: int = 80,
    ) -> None:
        self.max_lag = max_delay_ms // 10
        self.blocks = int(history_s * 100)
        self.analysis = analysis_ms // 10
        if self.analysis + self.max_lag + 2 > self.blocks // 2:
            raise ValueError("history_s too short for analysis_ms + max_delay_ms")
        self.estimate_every = RATE_HZ * estimate_every_ms // 1000
        self.tail = max(1, tail_ms // 10)
        self._ref = np.zeros(self.blocks * BLOCK, dtype=np.float32)  # sample rings
        self._mic = np.zeros(self.blocks * BLOCK, dtype=np.float32)
        self._mic_end = 0  # mic sample index after the last mic sample
        self._mic_from = 0  # mic sample index where the current recorded stretch began
        self._cleared = self.blocks // 2  # reference blocks up to here are fresh
        self._played_until = 0
        self._since_estimate = 0
        self.path = EchoPath(lags=self.max_lag + self.tail + 1, max_lag=self.max_lag)

    @property
    def delay_blocks(self) -> int | None:
        return self.path.delay_blocks

    @property
    def gain_power(self) -> float:
        """Echo power / reference power at the delay (1.0 until it is found)."""
        return self.path.gain_power

    @property
    def delay_ms(self) -> float | None:
        return None if self.delay_blocks is None else self.delay_blocks * 10.0

    # -- input ----------------------------------------------------------------------------

    def add_played(self, samples: np.ndarray, at_sample: int) -> None:
        """Audio that left the speaker from mic index ``at_sample`` on (16 kHz)."""
        end_block = (at_sample + len(samples)) // BLOCK
        if end_block >= self._mic_end // BLOCK + self.blocks // 2 or end_block < 0:
            return  # implausibly far ahead (or behind): a clock went wrong
        _put(self._ref, as_float(samples), at_sample)
        self._played_until = max(self._played_until, at_sample + len(samples))

    def add_mic(self, samples: np.ndarray, at_sample: int) -> None:
        """The microphone's samples from index ``at_sample`` on (16 kHz)."""
        if at_sample > self._mic_end or self._mic_end == 0:
            self._mic_from = at_sample  # a new stretch: the mic was not recorded before it
        _zero(self._mic, self._mic_end, at_sample)  # a gap: nothing was heard there
        _put(self._mic, as_float(samples), at_sample)
        self._mic_end = max(self._mic_end, at_sample + len(samples))
        # the reference ring ahead of the mic must not hold audio from a lap ago
        horizon = self._mic_end // BLOCK + self.blocks // 2
        if horizon > self._cleared:
            _zero(self._ref, self._cleared * BLOCK, horizon * BLOCK)
            self._cleared = horizon
        self._since_estimate += len(samples)
        # while the path is new (the first reply of the day), learn it four times as often
        every = self.estimate_every if self.path.learnt else self.estimate_every // 4
        if self._since_estimate >= every:
            self._since_estimate = 0
            self._estimate()

    @property
    def playing(self) -> bool:
        """True while audio played lately can still echo in the microphone."""
        return self._played_until + (self.max_lag + self.tail) * BLOCK > self._mic_end

    # -- the echo path --------------------------------------------------------------------

    def _estimate(self) -> None:
        if self._played_until < self._mic_end - self.estimate_every - self.max_lag * BLOCK:
            return  # nothing played lately: nothing new to learn (and no work while quiet)
        last = self._mic_end // BLOCK  # the block being filled is left out
        first = last - self.analysis
        mic = _block_power(self._mic, first, last)
        ref = _block_power(self._ref, first - self.path.lags + 1, last)
        self.path.learn(mic, ref, recorded=last - -(-self._mic_from // BLOCK))

    def echo_level_db(self, start: int, end: int) -> float:
        """Estimated echo level (dBFS) in mic[start:end]."""
        first, last = start // BLOCK, max(start // BLOCK + 1, -(-end // BLOCK))
        d = self.delay_blocks
        if d is None:
            lags = self.path.lags
            return power_db(self.path.echo_power(_block_power(self._ref, first - lags + 1, last)))
        ref = _block_power(self._ref, first - d - _SLACK - self.tail, last - d + _SLACK)
        # each of the window's blocks: the loudest within the slack either side of it
        spread = ref[self.tail :][_spread_index(last - first)].max(axis=1)
        before = float(ref[: self.tail].sum()) / self.tail
        power = max(float(spread.sum()) / len(spread), 0.5 * before)
        return power_db(self.gain_power * power)

    def suppress(self, window: np.ndarray, start: int, margin_db: float) -> np.ndarray | None:
        """The mic window (float32) with the echo taken out; None while no delay is known."""
        if self.delay_blocks is None:
            return None
        at = start - self.delay_blocks * BLOCK - _SLACK * BLOCK
        ref = _ring_get(self._ref, at, at + len(window) + 2 * _SLACK * BLOCK)
        if float(np.dot(ref, ref)) < _SILENT * len(ref):  # nothing played there: no echo
            return window
        gain = math.sqrt(self.gain_power) * 10 ** (margin_db / 20)
        return _suppress(window, ref, gain)


@functools.lru_cache(maxsize=8)
def _spread_index(n: int) -> np.ndarray:
    """Row i: blocks i .. i + 2 * _SLACK (a sliding window's positions, as fancy index)."""
    return np.arange(n)[:, None] + np.arange(2 * _SLACK + 1)[None, :]


_FFT = 512
_HANN = np.hanning(_FFT).astype(np.float32)
_WIDE_FFT = 2048


@functools.lru_cache(maxsize=4)
def _hann(n: int) -> np.ndarray:
    return np.hanning(n).astype(np.float32)


_LOW_BINS = 250 * _FFT // RATE_HZ  # bins under 250 Hz: below the voice
# Below the voice the echo is taken out this much harder (30 dB): the device's own pitch
# must not reach the model (a cough over it then sounds voiced), while a rumble far louder
# than the echo there (a passing trolley, or any noise once the reply has paused) stays as
# the mic heard it. Cutting that band outright left a trolley's 250-600 Hz alone, which the
# model scores as a voice (up to 0.89; uncut, at most 0.10).
_LOW_EXTRA = 10 ** (30.0 / 20)


def _suppress(mic: np.ndarray, ref: np.ndarray, gain: float, floor: float = 0.05) -> np.ndarray:
    """``mic`` with ``gain`` times the magnitude of ``ref`` taken off, per frequency.

    ``ref`` spans the mic window and the slack either side: its spectrum (the loudest of
    each group of finer bins, scaled to the window's length) stands for the echo anywhere
    in that span; under 250 Hz it counts ``_LOW_EXTRA`` more.
    """
    n = len(mic)
    spectrum = np.fft.rfft(mic, _FFT)
    mic_mag = (
        np.abs(_hann_windowed(spectrum))
        if n == _FFT
        else np.abs(np.fft.rfft(mic * _HANN[:n], _FFT))
    )
    wide = np.abs(np.fft.rfft(ref * _hann(len(ref)), _WIDE_FFT))
    echo = np.empty(_FFT // 2 + 1, dtype=wide.dtype)
    echo[:-1] = wide[:-1].reshape(-1, _WIDE_FFT // _FFT).max(axis=1)
    echo[-1] = wide[-1]
    echo *= gain * math.sqrt(n / len(ref))
    echo[:_LOW_BINS] *= _LOW_EXTRA
    mask = 1.0 - echo / np.maximum(mic_mag, 1e-9)
    np.maximum(mask, floor, out=mask)
    cleaned = np.fft.irfft(spectrum * mask, _FFT)[:n]
    return cleaned.astype(np.float32)


def _hann_windowed(spectrum: np.ndarray) -> np.ndarray:
    """The spectrum of a whole-window signal times a (periodic) Hann window, from the
    signal's own spectrum: 0.5 X[k] - 0.25 (X[k-1] + X[k+1]), one FFT saved."""
    padded = np.empty(len(spectrum) + 2, dtype=spectrum.dtype)
    padded[1:-1] = spectrum
    padded[0] = np.conj(spectrum[1])
    padded[-1] = np.conj(spectrum[-2])
    return 0.5 * spectrum - 0.25 * (padded[:-2] + padded[2:])
