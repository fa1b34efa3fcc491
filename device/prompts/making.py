"""Make the canned local prompts: espeak-ng speech as 24 kHz mono PCM16 WAVs.

Two jobs:

- the packaged defaults: read ``device/prompts/default/prompts.yaml`` (``NAME: text``, the
  prompts installed with the package and played when ``conversation.prompts_dir`` is unset)
  and write ``NAME.wav`` beside it (or into ``--out``);
- a site's folder, at provisioning time (``--config FILE``, also ``voice-kiosk
  make-prompts``): the packaged defaults copied into the config's
  ``conversation.prompts_dir`` (or ``--out``), and ``offline.wav`` made from the config's
  ``conversation.offline_message``, so each site says where help is; and likewise
  ``disclosure.wav`` from ``conversation.disclosure`` and ``consent.wav`` from
  ``conversation.consent_question`` when the config sets them (``site_texts``). WAVs
  already there (an operator's recordings) are kept unless ``--replace``; the prompts
  worded by the config are always made (a text the same as the packaged one: its WAV).
  The site's folder then replaces the packaged one: set ``conversation.prompts_dir`` to it.

espeak-ng speaks at 22050 Hz; the audio is resampled to the link rate (24 kHz) with soxr,
its leading and trailing silence trimmed to 50 ms (a prompt starts at once) and pauses
inside it shortened to 200 ms (espeak-ng's pause between sentences is longer).

    python -m device.prompts.making                       # all the packaged defaults
    python -m device.prompts.making --only filler goodbye # some of them
    python -m device.prompts.making --prompts site.yaml --out /etc/voice-kiosk/prompts
    python -m device.prompts.making --config /etc/voice-kiosk/config.yaml   # a site's folder
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np
import soxr
import yaml

from device.audio.frames import SPEECH_RATE_HZ
from device.audio.wav import AudioFileError, read_wav
from device.prompts import PACKAGED_PROMPTS
from device.prompts.arguments import add_site_arguments
from device.prompts.library import CATALOGUE, SOUNDS

if TYPE_CHECKING:
    from device.config.settings import ConversationSettings

DEFAULTS_DIR = PACKAGED_PROMPTS
PROMPTS = DEFAULTS_DIR / "prompts.yaml"
SITE_PROMPT = "offline"  # the prompt whose words always come from the site's config
SITE_KEYS = {
    "offline": "offline_message",
    "disclosure": "disclosure",
    "consent": "consent_question",
}
"""The prompts a site words in its config (``conversation.KEY``): made from its text."""
MAX_MESSAGE_CHARS = 200
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
KEEP_SILENCE_MS = 50
MAX_PAUSE_MS = 150
WINDOW_MS = 10  # pauses are found in windows this long
SILENCE_LEVEL = 200  # of 32767: below this a sample counts as silence
VOICE = "en-us"
WORDS_PER_MINUTE = 190
EXIT_FAILED = 1  # espeak-ng missing or failing, a folder that cannot be written
EXIT_USAGE = 2  # bad arguments or config: fix them, then run again


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
    """Leading and trailing silence cut to ``KEEP_SILENCE_MS``, inner pauses to ``MAX_PAUSE_MS``."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SILENCE_LEVEL)
    if loud.size == 0:
        return samples
    keep = rate_hz * KEEP_SILENCE_MS // 1000
    samples = samples[max(0, loud[0] - keep) : loud[-1] + 1 + keep]
    window = rate_hz * WINDOW_MS // 1000
    count = len(samples) // window
    peaks = np.abs(samples[: count * window].astype(np.int32)).reshape(count, window).max(axis=1)
    quiet = np.concatenate(([False], peaks <= SILENCE_LEVEL, [False]))
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    longest = MAX_PAUSE_MS // WINDOW_MS
    cut = np.ones(len(samples), dtype=bool)
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start > longest:  # keep the pause's first and last halves
            half = longest // 2
            cut[(start + half) * window : (stop - half) * window] = False
    return samples[cut]


def speak(text: str, voice: str, words_per_minute: int) -> tuple[np.ndarray, int]:
    """espeak-ng's speech as int16 samples and their rate."""
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        command = ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(wav), text]
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
        except FileNotFoundError:
            raise PromptError("espeak-ng is not installed (apt install espeak-ng)") from None
        except subprocess.TimeoutExpired:
            raise PromptError("espeak-ng did not finish within 30 s") from None
        if done.returncode != 0:
            raise PromptError(f"espeak-ng failed: {done.stderr.strip() or done.returncode}")
        try:
            pcm, rate, channels = read_wav(wav)
        except AudioFileError as exc:
            raise PromptError(str(exc)) from None
    return np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)[:, 0], rate


def make(
    text: str, out: Path, *, voice: str = VOICE, words_per_minute: int = WORDS_PER_MINUTE
) -> float:
    """Write one prompt WAV (whole or not at all); its length in seconds."""
    samples, rate = speak(text, voice, words_per_minute)
    if rate != SPEECH_RATE_HZ:
        samples = soxr.resample(samples, rate, SPEECH_RATE_HZ)
    samples = trim(np.asarray(samples, dtype="<i2"), SPEECH_RATE_HZ)
    partial = out.with_name(f".{out.name}.part")
    with wave.open(str(partial), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SPEECH_RATE_HZ)
        w.writeframes(samples.tobytes())
    os.replace(partial, out)  # a daemon loading the folder never sees half a WAV
    return len(samples) / SPEECH_RATE_HZ


def site_texts(conversation: ConversationSettings) -> dict[str, str]:
    """The prompts the config words (``SITE_KEYS``), whitespace folded: offline always,
    disclosure and consent when set (null or blank: the packaged WAV is copied, unused)."""
    texts: dict[str, str] = {}
    for name, key in SITE_KEYS.items():
        text = " ".join((getattr(conversation, key) or "").split())
        if text or name == SITE_PROMPT:
            texts[name] = text
    return texts


def site_text_problems(config: Path, texts: dict[str, str]) -> list[str]:
    """One line per site text too long to keep a caller waiting for."""
    return [
        f"{config}: conversation.{SITE_KEYS[name]}: {len(text)} characters, at most "
        f"{MAX_MESSAGE_CHARS} (a sentence or two: a caller is waiting)"
        for name, text in texts.items()
        if len(text) > MAX_MESSAGE_CHARS
    ]


def _too_long(name: str, seconds: float) -> str | None:
    role = CATALOGUE.get(name)
    if role is None or seconds <= role.max_s:
        return None
    return (
        f"warning: {name}.wav lasts {seconds:.1f} s, over the {role.max_s:g} s a caller should wait"
    )


def make_site_prompts(
    config: Path,
    out: Path | None = None,
    *,
    replace: bool = False,
    voice: str = VOICE,
    words_per_minute: int = WORDS_PER_MINUTE,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Fill a site's prompts folder from its config; 0, or 1 or 2 after one line per problem."""
    from device.config.loader import ConfigError, load_settings

    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bug must still be one line, never a traceback
        print(f"{config}: cannot read this config ({type(exc).__name__})", file=stderr)
        return EXIT_USAGE
    site = site_texts(settings.conversation)
    if problems := site_text_problems(config, site):
        for problem in problems:
            print(problem, file=stderr)
        return EXIT_USAGE
    chosen = out or settings.conversation.prompts_dir
    if chosen is None:
        print(
            f"{config}: conversation.prompts_dir is not set (the packaged prompts play): "
            "set it to the site's folder, or pass --out DIR",
            file=stderr,
        )
        return EXIT_USAGE
    folder = chosen.absolute()
    if folder.resolve() == DEFAULTS_DIR.resolve():
        print(
            f"{folder}: is the packaged default prompts folder; make the site's prompts in "
            "their own (--out DIR, or conversation.prompts_dir in the config)",
            file=stderr,
        )
        return EXIT_USAGE
    if shutil.which("espeak-ng") is None:
        print(
            f"espeak-ng is not installed (apt install espeak-ng): cannot make {SITE_PROMPT}.wav",
            file=stderr,
        )
        return EXIT_FAILED
    try:
        defaults = load_prompts(PROMPTS)
        folder.mkdir(parents=True, exist_ok=True)
        texts = _fill_folder(folder, defaults, set(site), replace=replace, stdout=stdout)
        lengths: dict[str, float] = {}
        for name, message in site.items():
            target = folder / f"{name}.wav"
            if name != SITE_PROMPT and message == defaults.get(name):
                _copy_default(name, target)  # the packaged words: the packaged WAV
                print(f"{target}: the default  {message}", file=stdout)
            else:
                seconds = make(message, target, voice=voice, words_per_minute=words_per_minute)
                lengths[name] = seconds
                print(f"{target}: {seconds:.2f} s  {message}", file=stdout)
            texts[name] = message
        _write_texts(folder / "prompts.yaml", texts, config)
    except PromptError as exc:
        print(exc, file=stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # whoever read the output went away; nothing to tell them
        return EXIT_FAILED
    except OSError as exc:
        where = exc.filename or folder
        print(f"{where}: cannot write the prompts folder: {exc.strerror or exc}", file=stderr)
        return EXIT_FAILED
    for name, seconds in lengths.items():
        if warning := _too_long(name, seconds):
            print(f"{warning}: shorten conversation.{SITE_KEYS[name]}", file=stderr)
    return 0


def _copy_default(name: str, target: Path) -> None:
    partial = target.with_name(f".{name}.wav.part")
    shutil.copyfile(DEFAULTS_DIR / f"{name}.wav", partial)
    os.replace(partial, target)


def _fill_folder(
    folder: Path, defaults: dict[str, str], worded: set[str], *, replace: bool, stdout: TextIO
) -> dict[str, str]:
    """Copy the packaged default WAVs in, the spoken prompts and the ``SOUNDS`` (keeping
    what is there unless ``replace``), but those the config words (``worded``); returns
    the texts of the spoken ones."""
    try:
        existing = load_prompts(folder / "prompts.yaml")
    except PromptError:
        existing = {}
    texts: dict[str, str] = {}
    for name, text in [*defaults.items(), *SOUNDS.items()]:
        if name in worded:
            continue
        spoken = name not in SOUNDS
        target = folder / f"{name}.wav"
        if target.exists() and not replace:
            if spoken:
                texts[name] = existing.get(name, text)
            print(f"{target}: kept (already there; --replace overwrites it)", file=stdout)
            continue
        _copy_default(name, target)
        if spoken:
            texts[name] = text
        print(f"{target}: the default  {text}", file=stdout)
    return texts


def _write_texts(path: Path, texts: dict[str, str], config: Path) -> None:
    header = (
        f"# What each WAV in this folder says (made by voice-kiosk make-prompts from {config}).\n"
        "# offline comes from conversation.offline_message (disclosure and consent, when set,\n"
        "# from conversation.disclosure and consent_question); a WAV may be replaced by a\n"
        "# recording (24 kHz mono 16-bit, or any rate: the device converts it).\n"
    )
    body = yaml.safe_dump(texts, sort_keys=False, allow_unicode=True, width=1000)
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(header + body, encoding="utf-8")
    os.replace(partial, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m device.prompts.making",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_site_arguments(parser, config_required=False)
    parser.add_argument("--prompts", type=Path, default=None, help="NAME: text YAML")
    parser.add_argument("--out", type=Path, default=None, help="folder (default: beside it)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="make only these prompts")
    parser.add_argument("--voice", default=VOICE, help="espeak-ng voice")
    parser.add_argument("--wpm", type=int, default=WORDS_PER_MINUTE, help="words per minute")
    args = parser.parse_args(argv)
    if args.config is not None:
        if args.prompts is not None or args.only:
            parser.error("--config makes a site's folder: not with --prompts or --only")
        return make_site_prompts(
            args.config, args.out, replace=args.replace, voice=args.voice, words_per_minute=args.wpm
        )
    if args.replace:
        parser.error("--replace goes with --config")
    source: Path = args.prompts or PROMPTS
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed (apt install espeak-ng)", file=sys.stderr)
        return EXIT_FAILED
    try:
        prompts = load_prompts(source)
        unknown = sorted(set(args.only or []) - set(prompts))
        if unknown:
            raise PromptError(f"{source}: no prompt named {', '.join(unknown)}")
        out_dir: Path = args.out or source.parent
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in prompts.items():
            if args.only and name not in args.only:
                continue
            seconds = make(
                text, out_dir / f"{name}.wav", voice=args.voice, words_per_minute=args.wpm
            )
            print(f"{out_dir / (name + '.wav')}: {seconds:.2f} s  {text}")
            warning = _too_long(name, seconds)
            if warning:
                print(warning, file=sys.stderr)
    except PromptError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"{exc.filename or source}: cannot write prompts: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
