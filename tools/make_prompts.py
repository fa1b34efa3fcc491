"""Make the canned local prompts: espeak-ng speech as 24 kHz mono PCM16 WAVs.

Reads ``firmware_config/prompts/prompts.yaml`` (``NAME: text``) and writes
``NAME.wav`` beside it (or into ``--out``). espeak-ng speaks at 22050 Hz; the audio is
resampled to the link rate (24 kHz) with soxr and its leading and trailing silence
trimmed to 50 ms, so a filler starts at once.

    python -m tools.make_prompts                       # all prompts
    python -m tools.make_prompts --only filler goodbye # some of them
    python -m tools.make_prompts --prompts site.yaml --out /etc/voice-kiosk/prompts
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
import soxr
import yaml

from device.audio.frames import SPEECH_RATE_HZ
from device.audio.wav import AudioFileError, read_wav

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ROOT / "firmware_config/prompts/prompts.yaml"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
KEEP_SILENCE_MS = 50
SILENCE_LEVEL = 200  # of 32767: below this a sample counts as silence


class PromptError(Exception):
    """One line saying what is wrong."""


def load_prompts(path: Path) -> dict[str, str]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PromptError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise PromptError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not data:
        raise PromptError(f"{path}: must be a mapping of NAME: text")
    out: dict[str, str] = {}
    for name, text in data.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise PromptError(f"{path}: {name!r}: names are lower-case letters, digits, _ and -")
        if not isinstance(text, str) or not text.strip():
            raise PromptError(f"{path}: {name}: must be the text to speak")
        out[name] = " ".join(text.split())
    return out


def trim(samples: np.ndarray, rate_hz: int) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SILENCE_LEVEL)
    if loud.size == 0:
        return samples
    keep = rate_hz * KEEP_SILENCE_MS // 1000
    return samples[max(0, loud[0] - keep) : loud[-1] + 1 + keep]


def speak(text: str, voice: str, words_per_minute: int) -> tuple[np.ndarray, int]:
    """espeak-ng's speech as int16 samples and their rate."""
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        command = ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(wav), text]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PromptError(f"espeak-ng failed: {done.stderr.strip() or done.returncode}")
        try:
            pcm, rate, channels = read_wav(wav)
        except AudioFileError as exc:
            raise PromptError(str(exc)) from None
    return np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)[:, 0], rate


def make(text: str, out: Path, *, voice: str, words_per_minute: int) -> float:
    """Write one prompt WAV; its length in seconds."""
    samples, rate = speak(text, voice, words_per_minute)
    if rate != SPEECH_RATE_HZ:
        samples = soxr.resample(samples, rate, SPEECH_RATE_HZ)
    samples = trim(np.asarray(samples, dtype="<i2"), SPEECH_RATE_HZ)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SPEECH_RATE_HZ)
        w.writeframes(samples.tobytes())
    return len(samples) / SPEECH_RATE_HZ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.make_prompts", description=__doc__)
    parser.add_argument("--prompts", type=Path, default=PROMPTS, help="NAME: text YAML")
    parser.add_argument("--out", type=Path, default=None, help="folder (default: beside it)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="make only these prompts")
    parser.add_argument("--voice", default="en-us", help="espeak-ng voice")
    parser.add_argument("--wpm", type=int, default=175, help="speaking rate, words per minute")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed (apt install espeak-ng)", file=sys.stderr)
        return 1
    try:
        prompts = load_prompts(args.prompts)
        unknown = sorted(set(args.only or []) - set(prompts))
        if unknown:
            raise PromptError(f"{args.prompts}: no prompt named {', '.join(unknown)}")
        out_dir: Path = args.out or args.prompts.parent
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in prompts.items():
            if args.only and name not in args.only:
                continue
            seconds = make(
                text, out_dir / f"{name}.wav", voice=args.voice, words_per_minute=args.wpm
            )
            print(f"{out_dir / (name + '.wav')}: {seconds:.2f} s  {text}")
    except PromptError as exc:
        print(exc, file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot write prompts: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
