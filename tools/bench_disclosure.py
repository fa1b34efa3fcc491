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
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device.audio.settings import FileInput, FileOutput
from device.audio.wav import WavMic, WavSpeaker
from device.config.loader import load_settings
from device.config.settings import Settings
from device.conversation.reports import ConversationStarted, PromptPlayed, Ready, Report
from device.daemon.daemon import Daemon
from device.daemon.drain import RunOptions
from device.prompts.library import PromptLibrary
from device.realtime.link import RealtimeLink
from device.services.triggers import Trigger, TriggerAction
from tools.realtime_emulator import Emulator, Scenario

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "firmware_config/examples/demo.yaml"
QUESTION = ROOT / "tools/demo_audio/question.wav"
DISCLOSURE = "Hello, I'm an automated assistant."  # the packaged disclosure.wav's words
KEY = "bench-key-not-a-secret"
TIMEOUT_S = 15.0


class _Watch:
    """A report sink and an audio tap: the wake, the first caller chunk, the prompts."""

    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self.uploaded = asyncio.Event()
        self.wake_ms: float | None = None
        self.first_chunk_ms: float | None = None
        self.prompt_ms: dict[str, float] = {}

    def report(self, t_ms: float, report: Report) -> None:
        if isinstance(report, Ready):
            self.ready.set()
        elif isinstance(report, ConversationStarted) and self.wake_ms is None:
            self.wake_ms = t_ms
        elif isinstance(report, PromptPlayed):
            self.prompt_ms[report.name] = report.ms

    def caller_audio(self, t_ms: float, pcm: bytes) -> None:
        if self.first_chunk_ms is None and self.wake_ms is not None:
            self.first_chunk_ms = t_ms
            self.uploaded.set()

    def reply_audio(self, t_ms: float, item_id: str, pcm: bytes) -> None:
        pass


def _settings(folder: Path, disclosure: str | None) -> Settings:
    base = load_settings(DEMO)
    audio = dataclasses.replace(
        base.audio,
        input=FileInput(path=QUESTION, speed=1.0, caller="turns", tail_silence_ms=2000),
        output=FileOutput(path=folder / "reply.wav", speed=1.0),
    )
    conversation = dataclasses.replace(base.conversation, start="on_signal", disclosure=disclosure)
    tools = dataclasses.replace(base.tools, audit_log=folder / "audit.jsonl")
    wake = dataclasses.replace(base.wake, enabled=False)
    return dataclasses.replace(base, audio=audio, conversation=conversation, wake=wake, tools=tools)


async def _one(url: str, settings: Settings, prompts: PromptLibrary) -> tuple[float, float]:
    """(wake to the first caller chunk uploaded, ms; the disclosure's length, ms or 0)."""
    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)

    async def connect() -> RealtimeLink:
        return await RealtimeLink.connect(url, settings.realtime.model, KEY, timeout_s=5)

    watch = _Watch()
    daemon = Daemon(
        settings,
        mic=WavMic(settings.audio.input),
        speaker=WavSpeaker(settings.audio.output),
        connect=connect,
        prompts=prompts,
        options=RunOptions(drain_timeout_s=2),
        sinks=[watch],
        taps=[watch],
    )
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(watch.ready.wait(), TIMEOUT_S)
        await asyncio.sleep(0.2)  # the warm standby settled, as between two visitors
        daemon.trigger(Trigger(TriggerAction.START, "bench wake"))
        await asyncio.wait_for(watch.uploaded.wait(), TIMEOUT_S)
    finally:
        daemon.stop()
        await asyncio.wait_for(task, TIMEOUT_S)
    assert watch.wake_ms is not None and watch.first_chunk_ms is not None
    return watch.first_chunk_ms - watch.wake_ms, watch.prompt_ms.get("disclosure", 0.0)


async def _run(repeats: int) -> dict[str, Any]:
    prompts = PromptLibrary.load(None)  # the packaged prompts (disclosure.wav among them)
    scenario = Scenario.from_dict(
        {"turns": [{"user": "What are your opening hours?", "reply": "We open at nine."}]}
    )
    on: list[float] = []
    off: list[float] = []
    prompt_ms = 0.0
    async with Emulator(scenario) as emu:
        with tempfile.TemporaryDirectory(prefix="bench-disclosure-") as tmp:
            with_it, without = _settings(Path(tmp), DISCLOSURE), _settings(Path(tmp), None)
            for i in range(repeats):  # alternating, the order swapped each time
                order = [(with_it, on), (without, off)]
                for settings, into in order if i % 2 == 0 else order[::-1]:
                    ms, said_ms = await _one(emu.url, settings, prompts)
                    into.append(ms)
                    prompt_ms = max(prompt_ms, said_ms)
    if not prompt_ms:
        raise RuntimeError("the disclosure prompt never played")
    median_on, median_off = statistics.median(on), statistics.median(off)
    return {
        "disclosure_cost_ms": round(median_on - median_off, 1),
        "disclosure_wake_to_upload_ms": round(median_on, 1),
        "disclosure_wake_to_upload_off_ms": round(median_off, 1),
        "disclosure_prompt_ms": round(prompt_ms, 1),
        "disclosure_repeats": repeats,
    }


def run(quick: bool) -> dict[str, Any]:
    return asyncio.run(_run(2 if quick else 11))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.quick), sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
