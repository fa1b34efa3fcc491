"""Make the wake chime: two soft bell notes, 200 ms, 24 kHz mono PCM16 (numpy only).

The device plays it on a wake when ``wake.chime: chime`` (a prompt name: ``chime.wav`` in
``conversation.prompts_dir``). The packaged ``device/prompts/default/chime.wav`` is this
script's output; it is pure arithmetic (no randomness, no external tool), so running it
again writes the same bytes (a test checks that).

Each note is a sine with a little of its octave and twelfth, a 4 ms attack and an
exponential decay; the second note (a fifth above) starts 70 ms after the first, so the
chime rises, the way a "ready" sound does. The peak is -9 dBFS: clearly heard, never
louder than the speech that follows.

    python tools/make_chime.py [--out device/prompts/default/chime.wav]
"""

from __future__ import annotations

import argparse
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "device" / "prompts" / "default" / "chime.wav"
RATE_HZ = 24000  # the device's speech format (device.audio.frames.SPEECH_RATE_HZ)
LENGTH_MS = 200
NOTES = ((0, 987.77), (70, 1479.98))  # (start ms, Hz): B5, then F#6 a fifth above
PARTIALS = ((1.0, 1.0), (2.0, 0.25), (3.0, 0.08))  # (multiple of the note, amplitude)
ATTACK_MS = 4
DECAY_MS = 45  # time constant of the exponential decay
PEAK_DBFS = -9.0


def chime(rate_hz: int = RATE_HZ) -> npt.NDArray[np.int16]:
    """The chime's samples (``LENGTH_MS`` long, ends in silence)."""
    n = rate_hz * LENGTH_MS // 1000
    out = np.zeros(n, dtype=np.float64)
    for start_ms, hz in NOTES:
        first = rate_hz * start_ms // 1000
        t = np.arange(n - first) / rate_hz
        tone = sum(a * np.sin(2 * np.pi * hz * k * t) for k, a in PARTIALS)
        envelope = np.minimum(1.0, t / (ATTACK_MS / 1000)) * np.exp(-t / (DECAY_MS / 1000))
        out[first:] += tone * envelope
    fade = min(n, rate_hz * 20 // 1000)  # the last 20 ms fade to exact silence
    out[n - fade :] *= np.linspace(1.0, 0.0, fade)
    out *= 10 ** (PEAK_DBFS / 20) * 32767 / np.max(np.abs(out))
    return np.round(out).astype(np.int16)


def write(path: Path, samples: npt.NDArray[np.int16], rate_hz: int = RATE_HZ) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(samples.astype("<i2").tobytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the WAV to write")
    args = parser.parse_args(argv)
    samples = chime()
    try:
        write(args.out, samples)
    except OSError as exc:
        print(f"make_chime: cannot write {args.out}: {exc.strerror or exc}")
        return 1
    print(f"{args.out}: {samples.size * 1000 // RATE_HZ} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
