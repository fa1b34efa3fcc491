"""Test sounds made on the spot with espeak-ng and sox: replies, a caller, noises.

- replies: the device's voice (espeak-ng, 24 kHz), a few seconds each, normalised to -1 dBFS;
- the caller cutting in ("Sorry, just the opening hours please"), another voice, 16 kHz,
  peaking at ``CALLER_PEAK_DBFS`` at the microphone;
- noises that are not speech: a door slam (a brown-noise thump with a fast decay), a cough
  (two band-passed pink-noise bursts) and a passing trolley (rumbling brown noise, 2.5 s),
  16 kHz, peaking at ``NOISE_PEAK_DBFS``; and a click (30 ms at 1.5 kHz) to time a path by.

Example::

    sounds = make_sounds(tmp_path)
    pulse.play_into_mic(sounds.caller)
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

REPLIES = (
    "We are open Monday to Friday from eight until six, and Saturdays until one.",
    "The pharmacy is on the ground floor, just past the main entrance on your left.",
    "Your appointment is confirmed for Tuesday at ten thirty with doctor Miller.",
    "Parking is free for the first two hours in the car park behind the building.",
    "You can pick up your order at the service desk from three o'clock today.",
)
CALLER_TEXT = "Sorry, just the opening hours please."
CALLER_PEAK_DBFS = -6.0
NOISE_PEAK_DBFS = -12.0
REPLY_PEAK_DBFS = -1.0


@dataclass(frozen=True)
class Sounds:
    replies: tuple[Path, ...]  # 24 kHz mono
    caller: Path  # 16 kHz mono
    noises: dict[str, Path]  # 16 kHz mono: door_slam, cough, trolley, click


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def make_sounds(folder: Path, *, repeatable: bool = True) -> Sounds:
    """``repeatable``: the same noises every time (sox ``-R``: tests must not depend on the
    draw); False: a new draw of each noise (the bench samples more of them run by run)."""
    folder.mkdir(parents=True, exist_ok=True)
    replies = []
    for i, text in enumerate(REPLIES):
        raw, out = folder / f"reply{i}_raw.wav", folder / f"reply{i}.wav"
        _run("espeak-ng", "-s", "170", "-w", str(raw), text)
        _run(
            "sox",
            str(raw),
            "-r",
            "24000",
            "-c",
            "1",
            "-b",
            "16",
            str(out),
            "norm",
            str(REPLY_PEAK_DBFS),
        )
        replies.append(out)
    raw, caller = folder / "caller_raw.wav", folder / "caller.wav"
    _run("espeak-ng", "-v", "en-us+f3", "-w", str(raw), CALLER_TEXT)
    _run(
        "sox",
        str(raw),
        "-r",
        "16000",
        "-c",
        "1",
        "-b",
        "16",
        str(caller),
        "norm",
        str(CALLER_PEAK_DBFS),
    )
    noises = {
        "click": ["synth", "0.03", "sine", "1500", "pad", "0.1", "0.3"],  # times the canceller
        "door_slam": ["synth", "0.4", "brownnoise", "fade", "q", "0.002", "0.4", "0.38"],
        "cough": [
            "synth",
            "0.22",
            "pinknoise",
            "band",
            "900",
            "700",
            "fade",
            "h",
            "0.01",
            "0.22",
            "0.18",
            "pad",
            "0",
            "0.12",
            "repeat",
            "1",
        ],
        "trolley": [
            "synth",
            "2.5",
            "brownnoise",
            "tremolo",
            "13",
            "60",
            "lowpass",
            "600",
            "fade",
            "t",
            "0.5",
            "2.5",
            "0.8",
        ],
    }
    paths = {}
    for name, effect in noises.items():
        path = folder / f"{name}.wav"
        _run(
            "sox",
            *(["-R"] if repeatable else []),
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            *effect,
            "norm",
            str(NOISE_PEAK_DBFS),
        )
        paths[name] = path
    return Sounds(tuple(replies), caller, paths)
