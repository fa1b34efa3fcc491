"""What the device has learnt of its speaker-to-mic path: delay, gain, and a ceiling (pure).

``EchoPath`` learns from the power of 10 ms blocks (float64, power of float samples in
[-1, 1]) and never from the clock: ``learn(mic, ref)`` with ``mic`` the last ``n`` mic
blocks and ``ref`` the ``n + lags - 1`` reference blocks (what the speaker played) ending
at the same block, so ``ref[lags - 1 + i - d]`` is what played ``d`` blocks before
``mic[i]``. Call it every few hundred ms while the device plays; between replies the state
stays as learnt (the path is the same tomorrow morning).

Its state, read by ``EchoReference``:

- ``delay_blocks`` and ``gain_power``: the echo's delay (the lag, under ``max_lag``, at
  which the mic's envelope follows the reference's clearly: correlation ``FOLLOWS_FIRST``
  for a first one or a jump, ``FOLLOWS`` near the known one) and its power gain at that
  delay (the median of mic/reference over the loud blocks). None and 1.0 until found;
- ``ceiling``: per lag 0..``lags - 1``, the most the echo's power gain can be at that lag,
  from what the mic did *not* hear: the median, over the blocks where the reference at that
  lag was loud (within ``_CEILING_RANGE_DB`` of the loudest), of the mic's power above its
  own floor (the quietest ``_FLOOR_PERCENTILE`` of its blocks: the room) over the
  reference's. 1.0 (echo as loud as the playback) where the lag has not been seen with
  ``_CEILING_MIN_BLOCKS`` loud blocks yet. A mic that does not hear the speaker (a headset,
  a mic array with its own canceller, a speaker across the room) gets a ceiling near 0
  within the first second of the first reply, and is judged as if nothing played; a mic
  that hears it 30 dB down, about 30 dB down. A median, so a caller talking over a part of
  the analysed span raises it little; a ceiling learnt is replaced by the next one from
  enough blocks (a volume turned up is learnt again).

Until the delay is found the echo is estimated from the ceiling (``echo_power``): at each
lag, what played then times that lag's ceiling, the loudest of them: with nothing learnt,
the loudest reference block within reach at full level (pessimistic: the first ~1 s of
the first reply), after that what the mic can have heard of the reply at most.

Example::

    path = EchoPath(lags=58, max_lag=50)
    path.learn(mic_power[-200:], ref_power[-257:])
    path.echo_power(ref_power[-61:])     # the loudest echo the last 4 blocks can hold
"""

from __future__ import annotations

import numpy as np

FOLLOWS = 0.5  # envelope correlation from which a new estimate near the last one replaces it
FOLLOWS_FIRST = 0.8  # the first one, or a jump, must be clearer: a wrong delay is worse than none
LOUD_DB = -55.0  # reference blocks quieter than this say nothing about the echo path
SLACK = 4  # blocks (40 ms) either side of the delay: it wanders, and jumps when a sound
# server drops samples to resync (seen with module-echo-cancel)
_CEILING_RANGE_DB = 20.0  # the ceiling is measured on reference blocks this near the loudest
_CEILING_MIN_BLOCKS = 5  # loud blocks at a lag (50 ms) before a first ceiling is trusted
_CEILING_UPDATE_BLOCKS = 20  # and before a learnt one is replaced (a new reply's first ms)
_FLOOR_PERCENTILE = 10.0  # the mic's floor (the room's noise), taken off before the ratio
_CEILING_PERCENTILE = 25.0  # of the ratios at a lag: a caller over most of the span moves it little
_CEILING_RISE = 2.0  # a learnt ceiling rises at most this much (3 dB) per estimate...
_CEILING_FREE_BLOCKS = 100  # ...unless measured over this many loud blocks (1 s)
INAUDIBLE_DB = -40.0  # a ceiling this far under the reply at every lag: not heard
_INAUDIBLE_POWER = 10 ** (INAUDIBLE_DB / 10)


class EchoPath:
    """See the module docstring. ``lags``: lags the ceiling covers (the delay range and the
    room's tail); ``max_lag``: the delay is looked for in 0..``max_lag``."""

    def __init__(self, *, lags: int, max_lag: int) -> None:
        if not 0 < max_lag < lags:
            raise ValueError(f"max_lag {max_lag} must be under lags {lags}")
        self.lags = lags
        self.max_lag = max_lag
        self.delay_blocks: int | None = None
        self.gain_power = 1.0  # echo power / reference power, at the delay
        self.ceiling = np.ones(lags)  # per lag: the most the echo's power gain can be
        self.correlation = 0.0
        self.estimates = 0

    @property
    def learnt(self) -> bool:
        """The delay is known, or every lag has a ceiling learnt."""
        return self.delay_blocks is not None or bool((self.ceiling < 1.0).all())

    @property
    def inaudible(self) -> bool:
        """Learnt that the mic does not hear the speaker: no delay found, and at every lag
        the ceiling ``INAUDIBLE_DB`` or more under the reply (a headset, a mic array with
        its own canceller): nothing the mic hears can be the device's own voice."""
        return self.delay_blocks is None and float(self.ceiling.max()) < _INAUDIBLE_POWER

    def learn(self, mic: np.ndarray, ref: np.ndarray, recorded: int | None = None) -> None:
        """Learn from ``mic`` (n block powers) and ``ref`` (n + lags - 1, see the module);
        ``recorded``: how many of the last mic blocks were really recorded (the ones before
        were not: zeros, which say nothing of the path; None: all)."""
        n = len(mic)
        if len(ref) != n + self.lags - 1:
            raise ValueError(f"ref has {len(ref)} blocks, expected {n + self.lags - 1}")
        loud_power = 10 ** (LOUD_DB / 10)
        heard = n if recorded is None else max(0, min(n, recorded))
        if self.delay_blocks is None and heard:  # once the delay is known it is not used
            self._learn_ceiling(mic[n - heard :], ref[n - heard :], loud_power)
        ref = ref[self.lags - 1 - self.max_lag :]  # lags 0..max_lag
        if (ref > loud_power).sum() < n // 2:
            return  # too little played to measure the path by
        envelope = np.sqrt(mic)
        mic_env = envelope - envelope.mean()
        # row j: the reference envelope at lag max_lag - j
        rows = np.lib.stride_tricks.sliding_window_view(np.sqrt(ref), n)
        rows = rows - rows.mean(axis=1, keepdims=True)
        norms = np.sqrt((rows * rows).sum(axis=1) * float(np.dot(mic_env, mic_env)))
        corr = np.where(norms > 0, rows @ mic_env / np.maximum(norms, 1e-30), 0.0)[::-1]
        best_lag = int(np.argmax(corr))
        best = float(corr[best_lag])
        self.correlation = best
        self.estimates += 1
        # a first delay, or a jump away from the known one, must be clear: over a barge-in
        # the caller and the cut-off reply correlate at some odd lag now and then
        small_move = self.delay_blocks is not None and abs(best_lag - self.delay_blocks) <= SLACK
        if best < (FOLLOWS if small_move else FOLLOWS_FIRST):
            return
        aligned = ref[self.max_lag - best_lag : self.max_lag - best_lag + n]
        use = aligned > loud_power
        if use.sum() >= 10:
            self.delay_blocks = best_lag
            self.gain_power = float(np.median(mic[use] / aligned[use]))

    def _learn_ceiling(self, mic: np.ndarray, ref: np.ndarray, loud_power: float) -> None:
        loudest = float(ref.max())
        if loudest <= loud_power:
            return
        n = len(mic)
        k = int((n - 1) * _FLOOR_PERCENTILE / 100)
        above = np.maximum(mic - np.partition(mic, k)[k], 0.0)
        # row d: the reference d blocks before each mic block
        rows = np.lib.stride_tricks.sliding_window_view(ref, n)[::-1]
        loud = rows > max(loud_power, loudest * 10 ** (-_CEILING_RANGE_DB / 10))
        counts = loud.sum(axis=1)
        # a first ceiling from a few blocks; a learnt one is replaced from more
        seen = counts >= np.where(self.ceiling >= 1.0, _CEILING_MIN_BLOCKS, _CEILING_UPDATE_BLOCKS)
        if not seen.any():
            return
        # each lag's percentile of its loud blocks' ratios (the others sort last)
        ratios = np.where(loud[seen], above / np.maximum(rows[seen], 1e-30), np.inf)
        ratios.sort(axis=1)
        rank = ((counts[seen] - 1) * (_CEILING_PERCENTILE / 100)).astype(np.intp)
        measured = ratios[np.arange(len(rank)), rank]
        old = self.ceiling[seen]
        # down at once; up from a ceiling learnt slowly unless measured over many blocks:
        # a caller who starts early in a reply must not raise it before the barge-in
        free = (old >= 1.0) | (counts[seen] >= _CEILING_FREE_BLOCKS)
        rise = np.where(free, 1.0, np.maximum(old * _CEILING_RISE, 1e-12))
        self.ceiling[seen] = np.minimum(np.minimum(measured, rise), 1.0)

    def echo_power(self, ref: np.ndarray) -> float:
        """Before the delay is known: the loudest echo power of the blocks
        ``ref[lags - 1:]`` stand for (``ref``: those blocks and the ``lags - 1`` before),
        each lag's reference times its ceiling."""
        if bool((self.ceiling >= 1.0).all()):
            return float(ref.max())
        windows = np.lib.stride_tricks.sliding_window_view(ref, self.lags)  # row: t-lags+1..t
        return float((windows * self.ceiling[::-1]).max())
