"""Wake-word test and bench audio, spoken by espeak-ng and mixed with sox noise, cached.

Positives: "Hey Jarvis" in several espeak-ng voices, alone or followed at once by a
question ("Hey Jarvis what are your opening hours"), clean or with pink noise at a given
SNR; each clip knows where the phrase ends and where the question starts (16 kHz samples).
Negatives: long clips of other speech in several voices, with near misses ("hey travis",
"hey service", "jars of honey", ...), clean and with noise, plus noise alone. A quiet-room
recording (low self-noise, one distant sentence) serves the idle benchmark.

Everything is 16 kHz mono PCM16 WAV under ``.cache/wake-audio/<key>/`` (``<key>`` hashes
the corpus definition and the espeak-ng version), with ``manifest.json``; a second call
with the same corpus reads the cache. The folder ignores itself in git.

    python tools/make_wake_audio.py --corpus test      # or bench, bench-quick
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "wake-audio"
RATE_HZ = 16000
GENERATOR_VERSION = 7
TIMEOUT_S = 30

PHRASE = "Hey Jarvis"
QUESTIONS = [
    "what are your opening hours",
    "where is the pharmacy",
    "can you check my order",
    "how do I get to platform two",
]
NEAR_MISSES = [
    "Hey Travis, over here.",
    "Hey service, can I get a refill?",
    "Jars of honey are on the top shelf.",
    "Hey Marvin, is that you?",
    "The harvest was late this year.",
    "Jarring noises came from the garage.",
    "Hey Harvey, wait for me.",
    "A jar of jam, please.",
]
# The pre-trained hey_jarvis model fires on these in some voices (measured; the issue saw
# it in both engines): the bench counts them among its false accepts, the tests allow them.
KNOWN_FALSE_TRIGGERS = [
    "Hey jazz fans, the concert starts at eight.",
    "Hey darling, are you ready?",
]
SENTENCES = [
    "Good morning, I have an appointment at ten thirty.",
    "Could you tell me where the toilets are?",
    "I would like to pick up a parcel for my neighbour.",
    "The train to the airport leaves from platform four.",
    "My card was declined, can you try again?",
    "We are looking for the children's section.",
    "How much does a single ticket cost?",
    "Is there somewhere I can charge my phone?",
    "The lift on the second floor is out of order.",
    "I think I left my umbrella here yesterday.",
    "Please wait here until your number is called.",
    "Do you sell stamps, or only envelopes?",
    "The doctor is running about fifteen minutes late.",
    "Can I pay with cash at this counter?",
    "My daughter needs a repeat prescription.",
    "The weather is supposed to clear up this afternoon.",
    "Let me know when the delivery van arrives.",
    "There is a queue at the information desk.",
    "I have a question about my bill from last month.",
    "We close early on public holidays.",
    "Turn left at the lifts and follow the signs.",
    "The printer on this floor has run out of paper.",
    "Your order number is seven four two nine.",
    "I am here to see the manager about a complaint.",
    "Is the car park open all night?",
    "Excuse me, is anybody sitting here?",
    "The meeting has been moved to Thursday morning.",
    "Could you speak a little more slowly, please?",
    "Thank you very much, that was really helpful.",
    "I would like to book a table for four people.",
]
VOICES_TEST = ["en-us", "en-gb", "en-us+f3", "en-gb-x-rp+m3", "en-gb-scotland+f2"]
VOICES_BENCH = [*VOICES_TEST, "en-029", "en-us+klatt2", "en-gb-x-gbclan+f4"]


@dataclass(frozen=True)
class Corpus:
    name: str
    voices: list[str]
    conditions: list[tuple[str, float | None]]  # (noise kind, SNR dB); None: clean
    with_questions: bool
    negative_minutes: float
    negative_voices: list[str]
    negative_snrs: list[float | None] = field(default_factory=lambda: [None, 10.0])
    noise_minutes: float = 0.5
    quiet_room_s: float = 0.0
    near_misses: list[str] = field(default_factory=lambda: NEAR_MISSES + KNOWN_FALSE_TRIGGERS)

    def key(self) -> str:
        text = json.dumps([asdict(self), GENERATOR_VERSION, _espeak_version()], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


CORPORA = {
    "test": Corpus(
        "test",
        VOICES_TEST,
        [("pink", None), ("pink", 10.0)],
        with_questions=True,
        negative_minutes=5.0,
        negative_voices=VOICES_TEST,
    ),
    "bench": Corpus(
        "bench",
        VOICES_BENCH,
        [("pink", None), ("pink", 10.0), ("pink", 5.0), ("babble", 10.0)],
        with_questions=True,
        negative_minutes=16.0,
        negative_voices=VOICES_BENCH,
        negative_snrs=[None, 10.0, 5.0],
        noise_minutes=1.0,
        quiet_room_s=60.0,
    ),
    "bench-quick": Corpus(
        "bench-quick",
        VOICES_BENCH,
        [("pink", None), ("pink", 10.0), ("pink", 5.0), ("babble", 10.0)],
        with_questions=True,
        negative_minutes=3.0,
        negative_voices=VOICES_BENCH,
        negative_snrs=[None, 10.0, 5.0],
        noise_minutes=0.5,
        quiet_room_s=60.0,
    ),
}


class AudioToolError(RuntimeError):
    """espeak-ng or sox is missing or failed; the message names the command."""


# -- the tools ------------------------------------------------------------------------------


def _run(cmd: list[str], stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(cmd, input=stdin, capture_output=True, timeout=TIMEOUT_S)
    except FileNotFoundError as exc:
        raise AudioToolError(f"{cmd[0]} is not installed (tools/setup.sh installs it)") from exc
    except subprocess.TimeoutExpired as exc:
        raise AudioToolError(f"{cmd[0]} took longer than {TIMEOUT_S} s") from exc
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        raise AudioToolError(f"{' '.join(cmd[:3])} failed: {err[-1] if err else done.returncode}")
    return done.stdout


def _espeak_version() -> str:
    try:
        return _run(["espeak-ng", "--version"]).decode().split("Data")[0].strip()
    except AudioToolError:
        return "missing"


# sox's output: 16 kHz mono PCM16, raw, to stdout
_RAW_OUT = ("-r", str(RATE_HZ), "-c", "1", "-b", "16", "-t", "raw", "-")


def speak(text: str, voice: str, wpm: int = 160) -> npt.NDArray[np.int16]:
    """espeak-ng's rendering of ``text`` at 16 kHz, silence trimmed at both ends; the same
    samples every run (sox ``-R``: its dither is random otherwise)."""
    wav = _run(["espeak-ng", "-v", voice, "-s", str(wpm), "--stdout", text])
    raw = _run(["sox", "-R", "-t", "wav", "-", *_RAW_OUT], wav)
    return trim(np.frombuffer(raw, dtype="<i2").astype(np.int16))


def noise(kind: str, seconds: float) -> npt.NDArray[np.float32]:
    """Repeatable sox noise (``pinknoise``, ``brownnoise``, ...) at about -20 dBFS RMS."""
    raw = _run(["sox", "-R", "-n", *_RAW_OUT, "synth", f"{seconds:.3f}", kind])
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32)
    return x * (3277.0 / max(1.0, _rms(x)))


def trim(x: npt.NDArray[np.int16], level: int = 150) -> npt.NDArray[np.int16]:
    loud = np.flatnonzero(np.abs(x.astype(np.int32)) > level)
    return x[loud[0] : loud[-1] + 1] if loud.size else x[:0]


def _rms(x: npt.NDArray[Any]) -> float:
    return float(np.sqrt(np.mean(np.square(x.astype(np.float64))))) if x.size else 0.0


def mix(
    speech: npt.NDArray[np.int16],
    background: npt.NDArray[np.float32],
    snr_db: float,
    speech_rms: float | None = None,
) -> npt.NDArray[np.int16]:
    """``speech`` with ``background`` scaled to ``snr_db`` below the speech's RMS."""
    ref = speech_rms if speech_rms is not None else _rms(trim(speech))
    scale = ref / max(1e-9, _rms(background)) / (10 ** (snr_db / 20))
    out = speech.astype(np.float32) + background[: speech.size] * scale
    return np.clip(out, -32768, 32767).astype(np.int16)


def write_wav(path: Path, x: npt.NDArray[np.int16]) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE_HZ)
        w.writeframes(x.astype("<i2").tobytes())


def read_wav(path: Path) -> npt.NDArray[np.int16]:
    with wave.open(str(path), "rb") as w:
        if w.getframerate() != RATE_HZ or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16 kHz mono PCM16")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)


# -- the corpus -----------------------------------------------------------------------------


def _silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(round(seconds * RATE_HZ), dtype=np.int16)


def _background(kind: str, n: int, rng: np.random.Generator, pools: dict[str, Any]) -> Any:
    pool = pools[kind]
    start = int(rng.integers(0, max(1, pool.size - n)))
    return pool[start : start + n]


def _babble(voices: list[str], seconds: float) -> npt.NDArray[np.float32]:
    """Four talkers at once: the other-speech noise of a busy hall."""
    total = round(seconds * RATE_HZ)
    out = np.zeros(total, dtype=np.float32)
    for k in range(4):
        stream = np.concatenate(
            [
                speak(s, voices[(k + i) % len(voices)], 150 + 10 * k)
                for i, s in enumerate(SENTENCES[k * 7 :] + SENTENCES[: k * 7])
            ]
        ).astype(np.float32)
        reps = int(np.ceil(total / max(1, stream.size)))
        out += np.tile(stream, reps)[:total]
    return out * (3277.0 / max(1.0, _rms(out)))


def _positives(corpus: Corpus, folder: Path, pools: dict[str, Any]) -> list[dict[str, Any]]:
    rng = np.random.default_rng(1)
    clips = []
    for v, voice in enumerate(corpus.voices):
        phrase = speak(PHRASE, voice)
        variants: list[tuple[str, npt.NDArray[np.int16] | None]] = [("alone", None)]
        if corpus.with_questions:
            variants.append(("question", speak(QUESTIONS[v % len(QUESTIONS)], voice)))
        for variant, question in variants:
            lead, tail = _silence(1.0), _silence(1.5)
            parts = [lead, phrase] + ([question] if question is not None else []) + [tail]
            clean = np.concatenate(parts)
            phrase_end = lead.size + phrase.size
            speech_rms = _rms(phrase if question is None else np.concatenate([phrase, question]))
            for kind, snr in corpus.conditions:
                audio = clean
                if snr is not None:
                    bg = _background(kind, clean.size, rng, pools)
                    audio = mix(clean, bg, snr, speech_rms)
                condition = "clean" if snr is None else f"{kind}{snr:g}dB"
                name = f"pos-{voice.replace('+', '_')}-{variant}-{condition}.wav"
                write_wav(folder / name, audio)
                clips.append(
                    {
                        "file": name,
                        "voice": voice,
                        "variant": variant,
                        "condition": condition,
                        "snr_db": snr,
                        "phrase_start_sample": int(lead.size),
                        "phrase_end_sample": int(phrase_end),
                        "question_start_sample": int(phrase_end) if question is not None else None,
                        "samples": int(audio.size),
                    }
                )
    return clips


def _negatives(corpus: Corpus, folder: Path, pools: dict[str, Any]) -> list[dict[str, Any]]:
    rng = np.random.default_rng(2)
    texts = SENTENCES + corpus.near_misses * 2  # near misses twice as often: the hard cases
    target = round(corpus.negative_minutes * 60 * RATE_HZ)
    per_clip = 60 * RATE_HZ
    clips: list[dict[str, Any]] = []
    made = 0
    index = 0
    while made < target:
        pieces: list[npt.NDArray[np.int16]] = [_silence(0.5)]
        size = pieces[0].size
        segments = []
        while size < min(per_clip, target - made):
            voice = corpus.negative_voices[int(rng.integers(len(corpus.negative_voices)))]
            text = texts[int(rng.integers(len(texts)))]
            said = speak(text, voice, int(rng.integers(140, 190)))
            gap = _silence(float(rng.uniform(0.3, 0.9)))
            segments.append([size, size + said.size, voice, text])
            pieces += [said, gap]
            size += said.size + gap.size
        audio = np.concatenate(pieces)
        snr = corpus.negative_snrs[index % len(corpus.negative_snrs)]
        if snr is not None:
            audio = mix(audio, _background("pink", audio.size, rng, pools), snr)
        name = f"neg-{index:02d}-{'clean' if snr is None else f'pink{snr:g}dB'}.wav"
        write_wav(folder / name, audio)
        clips.append(
            {
                "file": name,
                "kind": "speech",
                "snr_db": snr,
                "samples": int(audio.size),
                "segments": segments,  # [first sample, end sample, voice, text]
            }
        )
        made += audio.size
        index += 1
    n_noise = round(corpus.noise_minutes * 60 * RATE_HZ)
    for kind in ("pink", "brown"):
        audio = np.clip(_background(kind, n_noise, rng, pools), -32768, 32767).astype(np.int16)
        name = f"neg-noise-{kind}.wav"
        write_wav(folder / name, audio)
        clips.append({"file": name, "kind": "noise", "snr_db": None, "samples": int(audio.size)})
    return clips


def _quiet_room(corpus: Corpus, folder: Path) -> dict[str, Any] | None:
    """A minute of a quiet room: self-noise at about -66 dBFS, a soft thud (a door, about
    -40 dBFS) at 20 s and one distant sentence (about -36 dBFS) at 40 s."""
    if not corpus.quiet_room_s:
        return None
    n = round(corpus.quiet_room_s * RATE_HZ)
    room = noise("brownnoise", corpus.quiet_room_s + 1)[:n] * (16.0 / 3277.0)
    thud = noise("brownnoise", 0.15) * np.hanning(round(0.15 * RATE_HZ)).astype(np.float32) * 0.1
    said = speak(SENTENCES[0], "en-gb", 150).astype(np.float32) * 0.05
    for start, sound in ((n // 3, thud), (2 * n // 3, said)):
        end = min(n, start + sound.size)
        room[start:end] += sound[: end - start]
    audio = np.clip(room, -32768, 32767).astype(np.int16)
    write_wav(folder / "quiet-room.wav", audio)
    return {"file": "quiet-room.wav", "samples": int(audio.size)}


def build(name: str = "test", cache: Path = CACHE) -> tuple[Path, dict[str, Any]]:
    """The corpus's folder and manifest, generated once (then read from the cache)."""
    corpus = CORPORA[name]
    folder = cache / f"{name}-{corpus.key()}"
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        return folder, json.loads(manifest_path.read_text())
    cache.mkdir(parents=True, exist_ok=True)
    ignore = cache.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    work = folder.with_name(folder.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    pools = {
        "pink": noise("pinknoise", 120),
        "brown": noise("brownnoise", 120),
    }
    if any(kind == "babble" for kind, _ in corpus.conditions):
        pools["babble"] = _babble(corpus.voices, 60)
    manifest = {
        "corpus": name,
        "rate_hz": RATE_HZ,
        "positives": _positives(corpus, work, pools),
        "negatives": _negatives(corpus, work, pools),
        "quiet_room": _quiet_room(corpus, work),
    }
    (work / "manifest.json").write_text(json.dumps(manifest, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    work.rename(folder)
    return folder, manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="test")
    args = parser.parse_args(argv)
    try:
        folder, manifest = build(args.corpus)
    except AudioToolError as exc:
        print(f"make_wake_audio: {exc}")
        return 1
    neg_s = sum(c["samples"] for c in manifest["negatives"]) / RATE_HZ
    print(f"{folder}: {len(manifest['positives'])} positives, {neg_s / 60:.1f} min of negatives")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
