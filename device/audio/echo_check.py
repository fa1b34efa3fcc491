"""How loud and how late the microphone hears the speaker, and which echo mode suits (pure).

``voice-kiosk doctor --echo`` plays ``burst()`` on the speaker, records the microphone (and
``echo.raw_input``, if set) around it and asks ``measure_echo(played, recorded, rate_hz,
played_at=...)``: ``played`` is what left the speaker, on the recording's clock, from
sample ``played_at`` of ``recorded`` on (the recording starts at least ``NOISE_MS`` before
it, for the room's own level). The echo is found by cross-correlation (the burst is noise:
one sharp peak at the speaker-to-mic delay, even 20-30 dB under the room's noise):

- ``delay_ms``: where the peak lies (the direct path), as the device's own clocks see it
  (the reference echo mode looks for it up to ``echo.max_delay_ms``);
- ``coupling_db``: the echo's power over the played signal's, in dB (-12: the mic hears
  the speaker 12 dB down; the level the reference mode weighs a caller against): the
  recording's power over the burst, less the room's, or where the room is louder than
  the echo, the peak's own (the direct path);
- ``heard``: False when there is no peak above chance (``CLEAR``) or nothing above the
  room: ``coupling_db`` is then None and ``at_most_db`` bounds it (the room's level, or
  the recorder's floor, over the played signal's).

``recommend(mode, mic, raw=..., max_delay_ms=...)`` turns the measurements into the echo
mode to use and one line of why; ``mic`` is the configured input (the processed channel
in ``hardware`` and ``software`` modes), ``raw`` the mic under the canceller (``software``
with ``raw_input``).

Example::

    played = burst(16000)
    m = measure_echo(played, recorded_16k, 16000, played_at=8000)
    recommend("reference", m, max_delay_ms=400).line()
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

EchoMode = Literal["hardware", "software", "reference", "half_duplex"]

NOISE_MS = 300  # the recording before the burst: the room's own level
BURST_MS = 1000
BURST_RMS_DBFS = -20.0
CLEAR = 8.0  # the correlation peak over chance (robust sigmas of the correlation)
WEAK_DB = -30.0  # at or under this the mic hears the speaker too faintly to matter much
LOUD_DB = -6.0  # over this the echo is nearly as loud as the playback: no caller gets over it
_FLOOR_DBFS = -120.0  # what a digital silence counts as


@dataclass(frozen=True)
class EchoMeasurement:
    """What one microphone heard of the burst (see the module docstring)."""

    heard: bool
    coupling_db: float | None  # echo power / played power (dB); None when not heard
    at_most_db: float  # the coupling is at most this (the room's level over the burst's)
    delay_ms: float | None  # speaker to mic, by the device's clocks
    room_dbfs: float  # the room before the burst
    during_dbfs: float  # the mic during the burst (echo and room)
    played_dbfs: float  # the burst as it left the speaker
    clarity: float  # the correlation peak over chance (robust sigmas)

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def describe(self) -> str:
        """``hears the speaker 12.3 dB down, 45 ms late`` or ``does not hear the speaker
        (under -80 dB)``."""
        if not self.heard or self.coupling_db is None:
            return f"does not hear the speaker (under {self.at_most_db:.0f} dB)"
        late = "" if self.delay_ms is None else f", {self.delay_ms:.0f} ms late"
        return f"hears the speaker {_down(self.coupling_db)}{late}"


def _down(db: float) -> str:
    return f"{-db:.1f} dB down" if db <= 0 else f"{db:.1f} dB louder than it plays"


def _db(power: float) -> float:
    return max(_FLOOR_DBFS, 10.0 * math.log10(power)) if power > 0 else _FLOOR_DBFS


def _power(x: np.ndarray) -> float:
    return float(np.mean(x * x)) if len(x) else 0.0


def as_float(samples: np.ndarray) -> np.ndarray:
    if samples.dtype == np.int16:
        return samples.astype(np.float64) / 32768.0
    return samples.astype(np.float64)


def burst(rate_hz: int, *, ms: int = BURST_MS, seed: int = 26) -> np.ndarray:
    """The test signal: noise in the voice band (200-4000 Hz), ``BURST_RMS_DBFS``, 10 ms
    fades (int16)."""
    n = rate_hz * ms // 1000
    spectrum = np.fft.rfft(np.random.default_rng(seed).normal(0, 1, n))
    hz = np.fft.rfftfreq(n, 1 / rate_hz)
    spectrum[(hz < 200) | (hz > 4000)] = 0
    x = np.fft.irfft(spectrum, n)
    x *= 10 ** (BURST_RMS_DBFS / 20) / max(math.sqrt(_power(x)), 1e-12)
    fade = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (rate_hz / 100))
    return np.clip(x * fade * 32768, -32768, 32767).astype(np.int16)


def measure_echo(
    played: np.ndarray,
    recorded: np.ndarray,
    rate_hz: int,
    *,
    played_at: int,
    max_delay_ms: int = 1000,
    early_ms: int = 50,
) -> EchoMeasurement:
    """See the module docstring. ``played`` and ``recorded``: int16 or float in [-1, 1], at
    ``rate_hz``; the echo is looked for from ``early_ms`` before ``played_at`` (the clocks
    are not exact) to ``max_delay_ms`` after."""
    x, y = as_float(played), as_float(recorded)
    n = len(x)
    if n == 0 or played_at < 0:
        raise ValueError("nothing was played, or it was played before the recording began")
    room = y[max(0, played_at - rate_hz * NOISE_MS // 1000) : played_at]
    early = min(played_at, rate_hz * early_ms // 1000)
    lo = played_at - early
    hi = min(len(y), played_at + n + rate_hz * max_delay_ms // 1000)
    segment = y[lo:hi]
    lags = len(segment) - n + 1
    if lags < 1:
        raise ValueError("the recording ends before the burst does")
    size = 1 << (len(segment) + n).bit_length()
    corr = np.fft.irfft(np.fft.rfft(segment, size) * np.conj(np.fft.rfft(x, size)), size)[:lags]
    spread = 1.4826 * float(np.median(np.abs(corr - np.median(corr))))
    peak = int(np.argmax(np.abs(corr)))
    clarity = abs(float(corr[peak])) / spread if spread > 0 else (math.inf if corr[peak] else 0.0)
    played_power = _power(x)
    room_power = _power(room)
    during = segment[peak : peak + n]
    during_power = _power(during)
    echo_power = during_power - room_power
    direct_power = (float(corr[peak]) / float(np.dot(x, x))) ** 2 * played_power
    heard = clarity >= CLEAR and during_power > 0
    if heard:
        # the whole echo (room included) where it stands clear of the room; else the
        # direct path the correlation sees under it
        echo = echo_power if echo_power >= 0.25 * room_power else direct_power
        coupling: float | None = _db(max(echo, direct_power)) - _db(played_power)
    else:
        coupling = None
    bound = max(room_power, during_power if not heard else 0.0)
    return EchoMeasurement(
        heard=heard,
        coupling_db=coupling,
        at_most_db=_db(bound) - _db(played_power),
        delay_ms=(peak - early) * 1000.0 / rate_hz if heard else None,
        room_dbfs=_db(room_power),
        during_dbfs=_db(during_power),
        played_dbfs=_db(played_power),
        clarity=min(clarity, 1e6),
    )


@dataclass(frozen=True)
class Advice:
    """The echo mode to use, and why in one line; ``notes``: more to set (a longer delay)."""

    mode: EchoMode
    why: str
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"audio.echo.mode: {self.mode} ({self.why})"


def _level(m: EchoMeasurement) -> float:
    """The coupling to judge by: the measured one, or its bound when nothing was heard."""
    return m.coupling_db if m.heard and m.coupling_db is not None else m.at_most_db


def _plainly(m: EchoMeasurement, what: str) -> str:
    if not m.heard or m.coupling_db is None:
        return f"{what} does not hear the speaker (under {m.at_most_db:.0f} dB)"
    return f"{what} hears the speaker {_down(m.coupling_db)}"


def _raw_advice(m: EchoMeasurement, what: str) -> Advice:
    """For a mic that is not cancelled (what reference mode weighs against the reply)."""
    level = _level(m)
    said = _plainly(m, what)
    if level <= WEAK_DB:
        return Advice(
            "reference", f"{said}: hardware or reference both work; reference chosen by default"
        )
    if level <= LOUD_DB:
        return Advice(
            "reference",
            f"{said}: reference takes that echo out (a caller about as loud as it gets "
            "through); hardware is quicker over loud replies where the mic array cancels echo",
        )
    return Advice(
        "half_duplex",
        f"{said}, nearly as loud as it plays: no caller is heard over it by reference; use a "
        "mic array that cancels echo (hardware), else half_duplex (the button and the wake "
        "word interrupt)",
    )


def recommend(
    mode: EchoMode,
    mic: EchoMeasurement,
    *,
    raw: EchoMeasurement | None = None,
    max_delay_ms: int = 400,
) -> Advice:
    """The echo mode for these measurements (see the module docstring); ``mode``: the
    configured one, which says what ``mic`` is (processed in hardware and software)."""
    if mode == "hardware":
        if _level(mic) <= WEAK_DB:
            advice = Advice(
                "hardware",
                f"{_plainly(mic, 'the processed channel')}: hardware or reference both work; "
                "hardware as configured",
            )
        else:
            fallback = _raw_advice(mic, "the processed channel")
            advice = Advice(
                fallback.mode,
                f"{_plainly(mic, 'the processed channel')}: the array does not cancel the echo "
                "(is the reply played through the array's own output?); "
                f"{fallback.mode} instead",
            )
    elif mode == "software" and raw is not None:
        taken = _level(raw) - _level(mic)
        if _level(raw) <= WEAK_DB:
            advice = _raw_advice(raw, "the raw mic")
        elif taken >= 10.0:
            advice = Advice(
                "software",
                f"{_plainly(raw, 'the raw mic')} and the canceller takes {taken:.0f} dB off: "
                "software with raw_input as configured",
            )
        else:
            fallback = _raw_advice(raw, "the raw mic")
            advice = Advice(
                fallback.mode,
                f"{_plainly(raw, 'the raw mic')} and the canceller takes only {taken:.0f} dB "
                f"off (is the reply played through its sink?); {fallback.mode} instead",
            )
    elif mode == "software":
        advice = Advice(
            "software",
            f"{_plainly(mic, 'the cancelled source')}: software as configured (set "
            "echo.raw_input for a quick barge-in)",
        )
    else:
        advice = _raw_advice(mic, "the mic")
    weighed = raw if raw is not None else mic
    judged = advice.mode == "reference" or (advice.mode == "software" and raw is not None)
    if judged and weighed.delay_ms is not None and weighed.delay_ms > max_delay_ms:
        advice.notes.append(
            f"the echo comes {weighed.delay_ms:.0f} ms late, over echo.max_delay_ms "
            f"({max_delay_ms}): raise it to {50 * math.ceil(weighed.delay_ms / 50) + 50}"
        )
    return advice
