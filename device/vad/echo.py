"""The device's own voice in its microphone: the playback reference and the echo it leaves (pure).

Used by the ``reference`` echo mode. Both streams are placed on the microphone's 16 kHz
sample clock: ``add_mic(samples, at_sample)`` with the mic's own index and
``add_played(samples, at_sample)`` with the mic index at which that audio left the speaker
(the adapter converts the speaker's DAC time). Every ``estimate_every_ms`` of microphone
audio while the device plays, the echo path is measured again over the last
``analysis_ms``: its delay (the peak of the cross-correlation, over 0..``max_delay_ms``)
and its power gain (the median of mic/reference power over 10 ms blocks, which the caller's
occasional speech does not move much). Until a delay is found the estimate is pessimistic:
the loudest reference anywhere in the delay range, at gain 1 (echo as loud as the playback).

``echo_level_db(start, end)`` is the estimated echo level (dBFS) in mic[start:end]; the
detector needs the mic ``margin_db`` above it. A reverberant room keeps the echo going after
the reference stops: the ``tail_ms`` before the window counts at half power.

Example::

    echo = EchoReference()
    echo.add_played(reply_16k, at_sample=mic_index_now + 800)
    echo.add_mic(frame_16k, at_sample=mic_index)
    echo.echo_level_db(mic_index, mic_index + 512)
"""

from __future__ import annotations

import math

import numpy as np

RATE_HZ = 16000
BLOCK = 160  # 10 ms blocks for the power ratio
_FLOOR = 1e-12  # power (of float samples in [-1, 1]) below -120 dBFS
_SPEECH_CORRELATION = 0.3  # a correlation this strong means the delay is found


def power_db(power: float) -> float:
    return 10.0 * math.log10(max(power, _FLOOR))


def as_float(samples: np.ndarray) -> np.ndarray:
    """int16 (or float) samples as float32 in [-1, 1]."""
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    return samples.astype(np.float32, copy=False)


class EchoReference:
    """See the module docstring."""

    def __init__(
        self,
        *,
        max_delay_ms: int = 400,
        history_s: float = 8.0,
        analysis_ms: int = 1500,
        estimate_every_ms: int = 500,
        tail_ms: int = 80,
    ) -> None:
        self.max_delay = RATE_HZ * max_delay_ms // 1000
        self.size = int(RATE_HZ * history_s)
        self.analysis = RATE_HZ * analysis_ms // 1000
        if self.analysis + self.max_delay > self.size // 2:
            raise ValueError("history_s too short for analysis_ms + max_delay_ms")
        self.estimate_every = RATE_HZ * estimate_every_ms // 1000
        self.tail = RATE_HZ * tail_ms // 1000
        self._ref = np.zeros(self.size, dtype=np.float32)
        self._mic = np.zeros(self.size, dtype=np.float32)
        self._mic_end = 0  # mic index after the last mic sample
        self._played_until = 0  # reference index after the last played sample
        self._since_estimate = 0
        self.delay: int | None = None  # samples, once found
        self.gain_power = 1.0  # echo power / reference power
        self.correlation = 0.0
        self.estimates = 0

    # -- ring buffers ---------------------------------------------------------------------

    def _put(self, ring: np.ndarray, data: np.ndarray, at: int) -> None:
        n = len(data)
        if n > self.size:
            data, at, n = data[-self.size :], at + n - self.size, self.size
        i = at % self.size
        first = min(n, self.size - i)
        ring[i : i + first] = data[:first]
        ring[: n - first] = data[first:]

    def _get(self, ring: np.ndarray, start: int, end: int) -> np.ndarray:
        """ring[start:end] by absolute index; zeros outside what the ring can hold."""
        out = np.zeros(max(0, end - start), dtype=np.float32)
        lo, hi = (
            max(start, self._mic_end - self.size // 2),
            min(end, self._mic_end + self.size // 2),
        )
        if hi <= lo:
            return out
        idx = np.arange(lo, hi) % self.size
        out[lo - start : hi - start] = ring[idx]
        return out

    # -- input ----------------------------------------------------------------------------

    def add_played(self, samples: np.ndarray, at_sample: int) -> None:
        """Audio that left the speaker from mic index ``at_sample`` on (16 kHz)."""
        data = as_float(samples)
        if at_sample + len(data) > self._mic_end + self.size // 2:
            return  # implausibly far ahead: a clock went wrong
        self._put(self._ref, data, at_sample)
        self._played_until = max(self._played_until, at_sample + len(data))

    def add_mic(self, samples: np.ndarray, at_sample: int) -> None:
        """The microphone's samples from index ``at_sample`` on (16 kHz)."""
        data = as_float(samples)
        end = at_sample + len(data)
        # the reference ring ahead of the mic must not hold audio from a lap ago
        if end > self._mic_end:
            start = max(self._mic_end, end - self.size // 2)
            self._put(self._ref, np.zeros(end - start, np.float32), start + self.size // 2)
        self._put(self._mic, data, at_sample)
        self._mic_end = max(self._mic_end, end)
        self._since_estimate += len(data)
        if self._since_estimate >= self.estimate_every:
            self._since_estimate = 0
            self._estimate()

    @property
    def playing(self) -> bool:
        """True while audio played lately can still echo in the microphone."""
        return self._played_until + self.max_delay + self.tail > self._mic_end

    # -- the echo path --------------------------------------------------------------------

    def _estimate(self) -> None:
        end = self._mic_end
        mic = self._get(self._mic, end - self.analysis, end)
        ref = self._get(self._ref, end - self.analysis - self.max_delay, end)
        ref_power = float(np.mean(np.square(ref[self.max_delay :]))) if len(ref) else 0.0
        if power_db(ref_power) < -50.0:
            return  # nothing loud enough played to measure the path by
        n = 1 << (len(ref) + len(mic)).bit_length()
        spectrum = np.fft.rfft(mic, n) * np.conj(np.fft.rfft(ref, n))
        corr = np.fft.irfft(spectrum, n)
        # corr[k] = sum mic[t] * ref[t + k]; mic[t] pairs with ref[t + max_delay - lag]
        lags = corr[self.max_delay :: -1][: self.max_delay + 1]
        lag = int(np.argmax(np.abs(lags)))
        shifted = ref[self.max_delay - lag : self.max_delay - lag + len(mic)]
        norm = float(np.linalg.norm(mic) * np.linalg.norm(shifted))
        self.correlation = abs(float(lags[lag])) / norm if norm > 0 else 0.0
        self.estimates += 1
        if self.correlation >= _SPEECH_CORRELATION:
            self.delay = lag
            aligned = shifted
        else:  # no clear echo: bound its power by the loudest reference in the delay range
            aligned = self._envelope_max(ref, len(mic))
        blocks = len(mic) // BLOCK
        mic_p = np.mean(np.square(mic[: blocks * BLOCK]).reshape(blocks, BLOCK), axis=1)
        ref_p = np.mean(np.square(aligned[: blocks * BLOCK]).reshape(blocks, BLOCK), axis=1)
        loud = ref_p > max(float(ref_p.max()) * 0.01, 10 ** (-60 / 10))
        if loud.sum() >= 10:
            self.gain_power = float(np.median(mic_p[loud] / ref_p[loud]))

    def _envelope_max(self, ref: np.ndarray, n: int) -> np.ndarray:
        """Per mic sample, an amplitude whose power is the loudest reference block in range.

        ``ref`` starts ``max_delay`` before the ``n`` mic samples it is compared with.
        """
        blocks = len(ref) // BLOCK
        power = np.mean(np.square(ref[: blocks * BLOCK]).reshape(blocks, BLOCK), axis=1)
        span = self.max_delay // BLOCK + 1
        loudest = np.lib.stride_tricks.sliding_window_view(power, span).max(axis=1)
        return np.resize(np.sqrt(np.repeat(loudest, BLOCK)), n).astype(np.float32)

    def echo_level_db(self, start: int, end: int) -> float:
        """Estimated echo level (dBFS) in mic[start:end]."""
        if self.delay is None:
            ref = self._get(self._ref, start - self.max_delay - self.tail, end)
            power = float(np.max(np.square(ref))) if len(ref) else 0.0
            blocks = len(ref) // BLOCK
            if blocks:
                power = float(
                    np.max(np.mean(np.square(ref[: blocks * BLOCK]).reshape(blocks, BLOCK), 1))
                )
        else:
            now = self._get(self._ref, start - self.delay, end - self.delay)
            before = self._get(self._ref, start - self.delay - self.tail, start - self.delay)
            power = max(
                float(np.mean(np.square(now))) if len(now) else 0.0,
                0.5 * float(np.mean(np.square(before))) if len(before) else 0.0,
            )
        return power_db(self.gain_power * power)
