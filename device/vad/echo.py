"""The device's own voice in its microphone: the playback reference and the echo it leaves (pure).

Used by the ``reference`` echo mode. Both streams are placed on the microphone's 16 kHz
sample clock: ``add_mic(samples, at_sample)`` with the mic's own index and
``add_played(samples, at_sample)`` with the mic index at which that audio left the speaker
(the adapter converts the speaker's DAC time). Both are kept as the power of 10 ms blocks:
a room's echo (and a resampling sound path) smears phase but not the envelope.

Every ``estimate_every_ms`` of microphone audio while the device plays, the echo path is
measured again over the last ``analysis_ms``: its delay is the lag (0..``max_delay_ms``)
at which the mic's envelope follows the reference's best, and its power gain the median of
mic/reference power over the loud blocks at that lag (the caller's occasional speech does
not move a median much). Until a delay is found the estimate is pessimistic: the loudest
reference block anywhere in the delay range, at gain 1 (echo as loud as the playback).

``echo_level_db(start, end)`` is the estimated echo level (dBFS) in mic[start:end]: the
reference power at the delay, the loudest of the blocks within 40 ms of it (the delay
wanders), and the ``tail_ms`` before at half power (a room keeps ringing).

``suppress(window, start, margin_db)`` takes the echo out of a mic window, once the delay is
known: per frequency, the reference's magnitude at the delay (the loudest within 40 ms of
it), times the gain and ``margin_db`` more, is subtracted from the mic's; what
is left (the caller, a door, a cough) is resynthesised with the mic's phase. The speech
model then judges what the echo does not explain.

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

RATE_HZ = 16000
BLOCK = 160  # 10 ms
_FLOOR = 1e-12  # power (of float samples in [-1, 1]) below -120 dBFS
_FOLLOWS = 0.5  # envelope correlation from which a new estimate replaces the last one
_FOLLOWS_FIRST = 0.8  # the first one must be clearer: a wrong delay is worse than none
_LOUD_DB = -55.0  # reference blocks quieter than this say nothing about the echo path
_SLACK = 4  # blocks (40 ms) either side of the delay: it wanders, and jumps when a
# sound server drops samples to resync (seen with module-echo-cancel)


def power_db(power: float) -> float:
    return 10.0 * math.log10(max(power, _FLOOR))


def as_float(samples: np.ndarray) -> np.ndarray:
    """int16 (or float) samples as float32 in [-1, 1]."""
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    return samples.astype(np.float32, copy=False)


class _BlockPower:
    """Sum of squares per 10 ms block, by absolute block number, in a ring."""

    def __init__(self, blocks: int) -> None:
        self.size = blocks
        self.sums = np.zeros(blocks, dtype=np.float64)

    def add(self, data: np.ndarray, at_sample: int) -> None:
        if not len(data):
            return
        if at_sample % BLOCK == 0 and len(data) % BLOCK == 0:  # whole blocks: the usual mic frame
            first = at_sample // BLOCK
            sums = np.square(data.astype(np.float64)).reshape(-1, BLOCK).sum(axis=1)
            self.sums[np.arange(first, first + len(sums)) % self.size] += sums
            return
        index = np.arange(at_sample, at_sample + len(data)) // BLOCK
        first = int(index[0])
        sums = np.bincount(index - first, weights=np.square(data.astype(np.float64)))
        slots = np.arange(first, first + len(sums)) % self.size
        np.add.at(self.sums, slots, sums)

    def clear(self, first: int, last: int) -> None:
        """Zero blocks first..last-1."""
        if last > first:
            self.sums[np.arange(first, last) % self.size] = 0.0

    def power(self, first: int, last: int) -> np.ndarray:
        """Mean power of blocks first..last-1."""
        return self.sums[np.arange(first, last) % self.size] / BLOCK


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
        self._ref = _BlockPower(self.blocks)
        self._ref_samples = np.zeros(self.blocks * BLOCK, dtype=np.float32)
        self._mic = _BlockPower(self.blocks)
        self._mic_end = 0  # mic sample index after the last mic sample
        self._cleared = self.blocks // 2  # reference blocks up to here are fresh
        self._played_until = 0
        self._since_estimate = 0
        self.delay_blocks: int | None = None
        self.gain_power = 1.0  # echo power / reference power
        self.correlation = 0.0
        self.estimates = 0

    @property
    def delay_ms(self) -> float | None:
        return None if self.delay_blocks is None else self.delay_blocks * 10.0

    # -- input ----------------------------------------------------------------------------

    def add_played(self, samples: np.ndarray, at_sample: int) -> None:
        """Audio that left the speaker from mic index ``at_sample`` on (16 kHz)."""
        end_block = (at_sample + len(samples)) // BLOCK
        if end_block >= self._mic_end // BLOCK + self.blocks // 2 or end_block < 0:
            return  # implausibly far ahead (or behind): a clock went wrong
        data = as_float(samples)
        self._ref.add(data, at_sample)
        slots = np.arange(at_sample, at_sample + len(data)) % len(self._ref_samples)
        self._ref_samples[slots] = data
        self._played_until = max(self._played_until, at_sample + len(samples))

    def add_mic(self, samples: np.ndarray, at_sample: int) -> None:
        """The microphone's samples from index ``at_sample`` on (16 kHz)."""
        self._mic.clear(self._mic_end // BLOCK + 1, (at_sample + len(samples)) // BLOCK + 1)
        self._mic.add(as_float(samples), at_sample)
        self._mic_end = max(self._mic_end, at_sample + len(samples))
        # the reference ring ahead of the mic must not hold audio from a lap ago
        horizon = self._mic_end // BLOCK + self.blocks // 2
        self._ref.clear(self._cleared, horizon)
        if horizon > self._cleared:
            slots = np.arange(self._cleared * BLOCK, horizon * BLOCK) % len(self._ref_samples)
            self._ref_samples[slots] = 0.0
        self._cleared = max(self._cleared, horizon)
        self._since_estimate += len(samples)
        if self._since_estimate >= self.estimate_every:
            self._since_estimate = 0
            self._estimate()

    @property
    def playing(self) -> bool:
        """True while audio played lately can still echo in the microphone."""
        return self._played_until + (self.max_lag + self.tail) * BLOCK > self._mic_end

    # -- the echo path --------------------------------------------------------------------

    def _estimate(self) -> None:
        last = self._mic_end // BLOCK  # the block being filled is left out
        first = last - self.analysis
        mic = self._mic.power(first, last)
        ref = self._ref.power(first - self.max_lag, last)
        loud = ref > 10 ** (_LOUD_DB / 10)
        if loud.sum() < self.analysis // 2:
            return  # too little played to measure the path by
        mic_env = np.sqrt(mic) - np.sqrt(mic).mean()
        # row j: the reference envelope at lag max_lag - j
        rows = np.lib.stride_tricks.sliding_window_view(np.sqrt(ref), self.analysis)
        rows = rows - rows.mean(axis=1, keepdims=True)
        norms = np.sqrt((rows * rows).sum(axis=1) * float(np.dot(mic_env, mic_env)))
        corr = np.where(norms > 0, rows @ mic_env / np.maximum(norms, 1e-30), 0.0)[::-1]
        best_lag = int(np.argmax(corr))
        best = float(corr[best_lag])
        self.correlation = best
        self.estimates += 1
        if best < (_FOLLOWS if self.delay_blocks is not None else _FOLLOWS_FIRST):
            return
        aligned = ref[self.max_lag - best_lag : self.max_lag - best_lag + self.analysis]
        use = aligned > 10 ** (_LOUD_DB / 10)
        if use.sum() >= 10:
            self.delay_blocks = best_lag
            self.gain_power = float(np.median(mic[use] / aligned[use]))

    def echo_level_db(self, start: int, end: int) -> float:
        """Estimated echo level (dBFS) in mic[start:end]."""
        first, last = start // BLOCK, max(start // BLOCK + 1, -(-end // BLOCK))
        if self.delay_blocks is None:
            power = float(self._ref.power(first - self.max_lag - self.tail, last).max())
            return power_db(power)
        d = self.delay_blocks
        ref = self._ref.power(first - d - _SLACK - self.tail, last - d + _SLACK)
        n = last - first
        now = ref[self.tail :]  # the window's blocks with the slack either side
        spread = np.lib.stride_tricks.sliding_window_view(now, 2 * _SLACK + 1).max(axis=1)[:n]
        before = ref[: self.tail]
        power = max(float(spread.mean()), 0.5 * float(before.mean()))
        return power_db(self.gain_power * power)

    def suppress(self, window: np.ndarray, start: int, margin_db: float) -> np.ndarray | None:
        """The mic window (float32) with the echo taken out; None while no delay is known."""
        if self.delay_blocks is None:
            return None
        at = start - self.delay_blocks * BLOCK - _SLACK * BLOCK
        size = len(self._ref_samples)
        span = len(window) + 2 * _SLACK * BLOCK
        i = at % size
        if i + span <= size:
            ref = self._ref_samples[i : i + span]
        else:
            ref = self._ref_samples[np.arange(at, at + span) % size]
        gain = math.sqrt(self.gain_power) * 10 ** (margin_db / 20)
        return _suppress(window, ref, gain)


_FFT = 512
_HANN = np.hanning(_FFT).astype(np.float32)
_WIDE_FFT = 2048


@functools.lru_cache(maxsize=4)
def _hann(n: int) -> np.ndarray:
    return np.hanning(n).astype(np.float32)


_LOW_BINS = 250 * _FFT // RATE_HZ  # bins under 250 Hz


def _suppress(mic: np.ndarray, ref: np.ndarray, gain: float, floor: float = 0.05) -> np.ndarray:
    """``mic`` with ``gain`` times the magnitude of ``ref`` taken off, per frequency.

    ``ref`` spans the mic window and the slack either side: its spectrum (the loudest of
    each group of finer bins, scaled to the window's length) stands for the echo anywhere
    in that span.
    """
    n = len(mic)
    mic_mag = np.abs(np.fft.rfft(mic * _HANN[:n], _FFT))
    wide = np.abs(np.fft.rfft(ref * _hann(len(ref)), _WIDE_FFT))
    echo = wide[:-1].reshape(-1, _WIDE_FFT // _FFT).max(axis=1)
    echo = np.append(echo, wide[-1]) * (gain * math.sqrt(n / len(ref)))
    mask = np.maximum(1.0 - echo / np.maximum(mic_mag, 1e-9), floor)
    mask[:_LOW_BINS] = floor  # below the voice: rumble, thumps, hum
    cleaned = np.fft.irfft(np.fft.rfft(mic, _FFT) * mask, _FFT)[:n]
    return cleaned.astype(np.float32)
