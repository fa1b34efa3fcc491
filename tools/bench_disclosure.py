"""Bench: ``disclosure_cost_ms``, what the spoken AI disclosure costs a caller (target <= 20).

The daemon in this process (the demo's config, wake word off) on a file caller who speaks
whenever the device listens (``caller: turns``, real time: "What are your opening
hours?"), against the local Realtime emulator on loopback, with the warm standby up. Each
run starts one conversation the way a wake does (`Daemon.trigger(Trigger(START))`, once
``Ready`` said the standby is up) and times, on the reports' clock, the wake
(``ConversationStarted``) to the first caller chunk put on the audio lane (the audio tap's
``caller_audio``): ``wake_to_upload_ms``. Runs alternate with and without
``conversation.disclosure`` (the packaged disclosure.wav, 1.8 s of speech, played at the
wake), so a busy moment hits both alike; the medians and their difference:

- ``disclosure_cost_ms``: median with the disclosure minus median without (the cost);
- ``disclosure_wake_to_upload_ms`` / ``disclosure_wake_to_upload_off_ms``: the medians;
- ``disclosure_prompt_ms``: how long the disclosure plays (what an upload that waited for
  it would have cost); ``disclosure_repeats``: runs of each.

That rig's mic does not hear the speaker, so the prompt hold (device/daemon/prompt_hold.py)
never engages there. ``disclosure_echo_rig`` measures, in the same run and alternating
with the above, the rig where it does: the same caller (speaking as soon as the device
listens, so over the disclosure) on a mic that hears the speaker at -12 dB (``echo_db``),
echo mode ``reference`` with the local speech detector (Silero, `VadListener`, fed what
the speaker plays as its reference), wired as tests/test_prompt_hold_daemon.py wires it.
There the disclosure's echo is held back from the upload, and once the local detector
hears the caller all that was kept since the hold began goes up (their words with the
prompt's echo under and before them), or, nobody heard, the upload goes live once the
prompt played out. Each run goes on to the reply's first audio. A
dict; each ``{on, off, cost_ms}`` holds the medians with (``on``) and without (``off``)
the disclosure and their difference:

- ``wake_to_upload_ms``: the wake to the first caller chunk uploaded (the hold's delay);
- ``reply_after_caller_ms``: the daemon's own report of the reply's latency, ``FirstAudio``
  (the timeline's "first reply audio N ms after the caller stopped"): from the server's
  ``speech_stopped`` reaching the device to the reply's first audio. It leaves out the
  server's turn-detection silence and any lag of the upload behind the caller;
- ``reply_after_last_word_ms``: what the caller feels: from the mic handing on the audio
  just after the caller's last word (the file's end of speech) to the reply's first audio
  handed to the speaker, on the event loop's clock;
- ``speech_uploaded_ms``: ms of caller audio uploaded at ``SPEECH_DBFS`` or louder: their
  words that reached the server (``caller_speech_ms``: how long they speak in the file),
  with the disclosure's echo under and before them (``on`` over ``off``: the echo sent
  along; ``on`` under ``off``: words were lost);
- ``claimed``: of the ``repeats`` runs with the disclosure, how many the daemon said "the
  caller talked over the prompt" (its local detector heard them while the prompt held the
  upload, which counts a caller heard only in the hold's tail after the prompt, too); one
  not claimed waited for the prompt to play out, and dropped what was said over it.

    python tools/bench_disclosure.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device.audio.frames import SPEECH_RATE_HZ, AudioFrame, pcm_ms
from device.audio.settings import FileInput, FileOutput
from device.audio.wav import WavMic, WavSpeaker, read_wav
from device.config.loader import load_settings
from device.config.settings import Settings
from device.conversation.reports import (
    ConversationStarted,
    FirstAudio,
    Note,
    PromptPlayed,
    Ready,
    Report,
)
from device.daemon.daemon import Daemon
from device.daemon.drain import RunOptions
from device.daemon.inbox import Inbox
from device.prompts.library import PromptLibrary
from device.realtime.link import RealtimeLink
from device.services.triggers import Trigger, TriggerAction
from device.vad.listener import VadListener
from tools.realtime_emulator import Emulator, Scenario

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "firmware_config/examples/demo.yaml"
QUESTION = ROOT / "tools/demo_audio/question.wav"
DISCLOSURE = "Hello, I'm an automated assistant."  # the packaged disclosure.wav's words
KEY = "bench-key-not-a-secret"
TIMEOUT_S = 15.0
ECHO_DB = -12.0  # the echo rig's mic hears the speaker at this level, as a kiosk's does
CLAIMED = "the caller talked over the prompt"  # the daemon's Note when the detector heard them
SPEECH_DBFS = -40.0  # a block (a file's 10 ms, an uploaded chunk) this loud is speech


def _dbfs(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    rms = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
    return 20.0 * float(np.log10(rms / 32768.0 + 1e-12))


def _speech_span_ms(path: Path) -> tuple[float, float]:
    """(start, end) of the speech in a mono WAV file, ms from its start (10 ms blocks)."""
    pcm, rate_hz, channels = read_wav(path)
    assert channels == 1
    step = rate_hz // 100 * 2
    loud = [i for i in range(0, len(pcm), step) if _dbfs(pcm[i : i + step]) >= SPEECH_DBFS]
    if not loud:
        raise RuntimeError(f"{path}: no speech")
    return pcm_ms(loud[0], rate_hz), pcm_ms(loud[-1] + step, rate_hz)


class _EarMic(WavMic):
    """A WavMic that notes when (the event loop's clock, s) it hands on the frame after the
    caller's last word (``last_word_ms`` into its file): when they stopped speaking."""

    def __init__(self, settings: FileInput, last_word_ms: float) -> None:
        super().__init__(settings)
        self._last_word_ms = last_word_ms
        self.stopped_at_s: float | None = None

    async def frames(self) -> AsyncIterator[AudioFrame]:
        async for frame in super().frames():
            if self.stopped_at_s is None and frame.t_ms >= self._last_word_ms:
                self.stopped_at_s = asyncio.get_running_loop().time()
            yield frame


class _Watch:
    """A report sink and an audio tap: the wake, the first caller chunk, the prompts, the
    first reply audio's latency, the caller heard over a prompt."""

    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self.uploaded = asyncio.Event()
        self.replied = asyncio.Event()
        self.wake_ms: float | None = None
        self.first_chunk_ms: float | None = None
        self.prompt_ms: dict[str, float] = {}
        self.reply_after_ms: float | None = None
        self.claimed = False
        self.speech_uploaded_ms = 0.0  # caller chunks at SPEECH_DBFS or louder
        self.first_reply_at_s: float | None = None  # the event loop's clock

    def report(self, t_ms: float, report: Report) -> None:
        if isinstance(report, Ready):
            self.ready.set()
        elif isinstance(report, ConversationStarted) and self.wake_ms is None:
            self.wake_ms = t_ms
        elif isinstance(report, PromptPlayed):
            self.prompt_ms[report.name] = report.ms
        elif isinstance(report, FirstAudio) and self.reply_after_ms is None:
            self.reply_after_ms = report.latency_ms
            self.replied.set()
        elif isinstance(report, Note) and report.text.startswith(CLAIMED):
            self.claimed = True

    def caller_audio(self, t_ms: float, pcm: bytes) -> None:
        if self.first_chunk_ms is None and self.wake_ms is not None:
            self.first_chunk_ms = t_ms
            self.uploaded.set()
        if self.wake_ms is not None and _dbfs(pcm) >= SPEECH_DBFS:
            self.speech_uploaded_ms += pcm_ms(len(pcm), SPEECH_RATE_HZ)

    def reply_audio(self, t_ms: float, item_id: str, pcm: bytes) -> None:
        if self.first_reply_at_s is None:
            self.first_reply_at_s = asyncio.get_running_loop().time()


def _settings(folder: Path, disclosure: str | None, *, echo: bool = False) -> Settings:
    """The demo's config on the file caller; ``echo``: its mic hears the speaker at
    ``ECHO_DB`` (the demo's echo mode, ``reference``, stays: the echo rig)."""
    base = load_settings(DEMO)
    audio = dataclasses.replace(
        base.audio,
        input=FileInput(
            path=QUESTION,
            speed=1.0,
            caller="turns",
            tail_silence_ms=2000,
            echo_db=ECHO_DB if echo else None,
        ),
        output=FileOutput(path=folder / "reply.wav", speed=1.0),
    )
    if echo and audio.echo.judged_mode != "reference":
        raise RuntimeError(f"the echo rig wants echo mode reference, not {audio.echo.mode}")
    conversation = dataclasses.replace(base.conversation, start="on_signal", disclosure=disclosure)
    tools = dataclasses.replace(base.tools, audit_log=folder / "audit.jsonl")
    wake = dataclasses.replace(base.wake, enabled=False)
    return dataclasses.replace(base, audio=audio, conversation=conversation, wake=wake, tools=tools)


async def _watched(
    url: str, settings: Settings, prompts: PromptLibrary, echo: bool
) -> tuple[_Watch, float | None]:
    """One conversation started the way a wake does, watched up to the first caller chunk
    uploaded (``echo``: on the echo rig, and on to the first reply audio, with when the
    caller stopped speaking on the event loop's clock, s)."""
    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)

    async def connect() -> RealtimeLink:
        return await RealtimeLink.connect(url, settings.realtime.model, KEY, timeout_s=5)

    watch = _Watch()
    speaker = WavSpeaker(settings.audio.output)
    mic = WavMic(settings.audio.input)
    inbox: Inbox | None = None
    vad: VadListener | None = None
    if echo:  # as `voice-kiosk run` wires a kiosk's mic (serve.py; test_prompt_hold_daemon)
        mic = _EarMic(settings.audio.input, _speech_span_ms(settings.audio.input.path)[1])
        mic.hear(speaker)
        inbox = Inbox()
        vad = VadListener(
            settings.audio.barge_in,
            settings.audio.echo,
            on_speech=inbox.local_speech,
            on_pause=inbox.local_pause,
        )
        speaker.on_played = vad.reference
    daemon = Daemon(
        settings,
        mic=mic,
        speaker=speaker,
        connect=connect,
        prompts=prompts,
        options=RunOptions(drain_timeout_s=2),
        sinks=[watch],
        taps=[watch],
        inbox=inbox,
        local_vad=vad,
    )
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(watch.ready.wait(), TIMEOUT_S)
        await asyncio.sleep(0.2)  # the warm standby settled, as between two visitors
        daemon.trigger(Trigger(TriggerAction.START, "bench wake"))
        await asyncio.wait_for(watch.uploaded.wait(), TIMEOUT_S)
        if echo:
            await asyncio.wait_for(watch.replied.wait(), TIMEOUT_S)
    finally:
        daemon.stop()
        await asyncio.wait_for(task, TIMEOUT_S)
    assert watch.wake_ms is not None and watch.first_chunk_ms is not None
    return watch, mic.stopped_at_s if isinstance(mic, _EarMic) else None


async def _one(url: str, settings: Settings, prompts: PromptLibrary) -> tuple[float, float]:
    """(wake to the first caller chunk uploaded, ms; the disclosure's length, ms or 0)."""
    watch, _ = await _watched(url, settings, prompts, echo=False)
    assert watch.wake_ms is not None and watch.first_chunk_ms is not None
    return watch.first_chunk_ms - watch.wake_ms, watch.prompt_ms.get("disclosure", 0.0)


@dataclasses.dataclass
class _EchoRuns:
    """The echo rig's runs of one kind (with or without the disclosure)."""

    wake_to_upload_ms: list[float] = dataclasses.field(default_factory=list)
    reply_after_caller_ms: list[float] = dataclasses.field(default_factory=list)
    reply_after_last_word_ms: list[float] = dataclasses.field(default_factory=list)
    speech_uploaded_ms: list[float] = dataclasses.field(default_factory=list)
    claimed: int = 0


async def _one_echo(url: str, settings: Settings, prompts: PromptLibrary, into: _EchoRuns) -> None:
    """One run on the echo rig, to the first reply audio, added to ``into``."""
    watch, stopped_at_s = await _watched(url, settings, prompts, echo=True)
    assert watch.wake_ms is not None and watch.first_chunk_ms is not None
    assert watch.reply_after_ms is not None and watch.first_reply_at_s is not None
    assert stopped_at_s is not None
    into.wake_to_upload_ms.append(watch.first_chunk_ms - watch.wake_ms)
    into.reply_after_caller_ms.append(watch.reply_after_ms)
    into.reply_after_last_word_ms.append((watch.first_reply_at_s - stopped_at_s) * 1000.0)
    into.speech_uploaded_ms.append(watch.speech_uploaded_ms)
    into.claimed += watch.claimed


def _on_off(on: list[float], off: list[float]) -> dict[str, float]:
    median_on, median_off = statistics.median(on), statistics.median(off)
    return {
        "on": round(median_on, 1),
        "off": round(median_off, 1),
        "cost_ms": round(median_on - median_off, 1),
    }


async def _run(repeats: int, echo_repeats: int) -> dict[str, Any]:
    prompts = PromptLibrary.load(None)  # the packaged prompts (disclosure.wav among them)
    scenario = Scenario.from_dict(
        {"turns": [{"user": "What are your opening hours?", "reply": "We open at nine."}]}
    )
    on: list[float] = []
    off: list[float] = []
    echo_on, echo_off = _EchoRuns(), _EchoRuns()
    speech_start_ms, speech_end_ms = _speech_span_ms(QUESTION)
    prompt_ms = 0.0
    async with Emulator(scenario) as emu:
        with tempfile.TemporaryDirectory(prefix="bench-disclosure-") as tmp:
            folder = Path(tmp)
            with_it, without = _settings(folder, DISCLOSURE), _settings(folder, None)
            echo_with = _settings(folder, DISCLOSURE, echo=True)
            echo_without = _settings(folder, None, echo=True)
            for i in range(repeats):  # alternating, the order swapped each time
                order = [(with_it, on), (without, off)]
                for settings, into in order if i % 2 == 0 else order[::-1]:
                    ms, said_ms = await _one(emu.url, settings, prompts)
                    into.append(ms)
                    prompt_ms = max(prompt_ms, said_ms)
                if i >= echo_repeats:
                    continue
                echo_order = [(echo_with, echo_on), (echo_without, echo_off)]
                for settings, runs in echo_order if i % 2 == 0 else echo_order[::-1]:
                    await _one_echo(emu.url, settings, prompts, runs)
    if not prompt_ms:
        raise RuntimeError("the disclosure prompt never played")
    median_on, median_off = statistics.median(on), statistics.median(off)
    return {
        "disclosure_cost_ms": round(median_on - median_off, 1),
        "disclosure_wake_to_upload_ms": round(median_on, 1),
        "disclosure_wake_to_upload_off_ms": round(median_off, 1),
        "disclosure_prompt_ms": round(prompt_ms, 1),
        "disclosure_repeats": repeats,
        "disclosure_echo_rig": {
            "wake_to_upload_ms": _on_off(echo_on.wake_to_upload_ms, echo_off.wake_to_upload_ms),
            "reply_after_caller_ms": _on_off(
                echo_on.reply_after_caller_ms, echo_off.reply_after_caller_ms
            ),
            "reply_after_last_word_ms": _on_off(
                echo_on.reply_after_last_word_ms, echo_off.reply_after_last_word_ms
            ),
            "speech_uploaded_ms": _on_off(echo_on.speech_uploaded_ms, echo_off.speech_uploaded_ms),
            "caller_speech_ms": round(speech_end_ms - speech_start_ms, 1),
            "claimed": echo_on.claimed,
            "repeats": min(repeats, echo_repeats),
        },
    }


def run(quick: bool) -> dict[str, Any]:
    """Quick: 2 runs each way on the plain rig, 1 on the echo rig (no target there)."""
    return asyncio.run(_run(2, 1) if quick else _run(11, 11))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.quick), sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
