"""The metrics service on a real daemon against the Realtime emulator: the port scraped
during a conversation, the cost the device computes against the hand-computed figure, and
the cost guard ending a conversation and refusing the next visitor of a spent day."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from device.audio.settings import FileInput, FileOutput
from device.audio.wav import WavMic, WavSpeaker
from device.config.settings import Settings
from device.conversation.reports import (
    ConversationEnded,
    CostReported,
    LimitReached,
    Outcome,
    PromptPlayed,
    Report,
    VisitorRefused,
)
from device.daemon.daemon import Daemon
from device.daemon.drain import RunOptions
from device.metrics.budget import FILE_NAME, Ledger, load_ledger, local_day, save_ledger
from device.metrics.service import MetricsService
from device.prompts.library import PromptLibrary
from device.services.triggers import Trigger, TriggerAction
from tests.helpers import (
    QUESTION,
    connect_to,
    eventually,
    joined_wavs,
    one_turn,
    settings_for,
    silence_wav,
    validate,
)
from tools.realtime_emulator import Emulator

pytestmark = pytest.mark.slow


class Reports:
    def __init__(self) -> None:
        self.seen: list[Report] = []

    def report(self, t_ms: float, report: Report) -> None:
        self.seen.append(report)

    def of(self, kind: type) -> list[Any]:
        return [r for r in self.seen if isinstance(r, kind)]


def _settings(tmp_path: Path, question: Path = QUESTION, **conversation: Any) -> Settings:
    base = settings_for(tmp_path, question, speed=4.0)
    metrics = dataclasses.replace(base.metrics, enabled=True, port=0, state_dir=tmp_path)
    conv = dataclasses.replace(base.conversation, **conversation)
    return dataclasses.replace(base, metrics=metrics, conversation=conv)


def _daemon(
    settings: Settings, url: str, metrics: MetricsService, sink: Reports, *, exits: bool = True
) -> Daemon:
    """``exits``: the daemon stops once the caller's file or the conversation is over."""
    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)
    return Daemon(
        settings,
        mic=WavMic(settings.audio.input),
        speaker=WavSpeaker(settings.audio.output),
        connect=connect_to(url, settings),
        options=RunOptions(exit_when_input_ends=exits, drain_timeout_s=20),
        prompts=PromptLibrary.load(settings.conversation.prompts_dir),
        sinks=[sink],
        services=[metrics],
    )


def _service(settings: Settings) -> MetricsService:
    return MetricsService(
        settings.metrics,
        chunk_ms=settings.audio.upload_chunk_ms,
        info={"device": "kiosk-7", "site": "test", "model": settings.realtime.model},
        daily_budget=settings.conversation.daily_budget,
        ledger_path=tmp_ledger(settings),
    )


def tmp_ledger(settings: Settings) -> Path:
    assert settings.metrics.state_dir is not None
    return settings.metrics.state_dir / FILE_NAME


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


async def test_a_scrape_during_a_conversation_sees_its_figures(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    metrics, sink = _service(settings), Reports()
    async with Emulator(one_turn(), on_event=validate) as emu:
        daemon = _daemon(settings, emu.url, metrics, sink)
        task = asyncio.create_task(daemon.run())
        port: int = await eventually(lambda: metrics.port or 0, task=task, what="the port")
        # scraped while the conversation runs: the reply's first audio and its usage are in
        seen = await eventually(
            lambda: daemon.engine.active and sink.of(CostReported) and sink.seen, task=task
        )
        assert seen
        during = await asyncio.to_thread(_scrape, port)
        summary = await task
    assert summary.turns == 1
    assert during["voice_kiosk_first_audio_seconds_count"] == 1
    assert 0 < during["voice_kiosk_first_audio_seconds_sum"] < 5
    assert during['voice_kiosk_first_audio_seconds_bucket{le="+Inf"}'] == 1
    assert during['voice_kiosk_conversations_started_total{source="start_up"}'] == 1
    assert during['voice_kiosk_responses_total{status="completed"}'] == 1
    assert during['voice_kiosk_device_info{device="kiosk-7",model="gpt-realtime-2.1",site="test"}']
    # the tokens the emulator reported, by kind, and their cost by the price table
    done = [e for e in emu.sent if e["type"] == "response.done"]
    usage = done[0]["response"]["usage"]
    tokens = {
        k: during[f'voice_kiosk_tokens_total{{kind="{k}"}}']
        for k in ("text_in", "audio_in", "text_out", "audio_out")
    }
    details = usage["input_token_details"]
    assert tokens["text_in"] == details["text_tokens"] - details["cached_tokens"]
    assert tokens["audio_in"] == details["audio_tokens"]
    assert tokens["audio_out"] == usage["output_token_details"]["audio_tokens"]
    cost = during['voice_kiosk_cost_dollars_total{model="gpt-realtime-2.1"}']
    assert cost == float(sink.of(CostReported)[0].cost)
    # after the conversation: how it ended, and the audio counted from stats()
    after = metrics.scrape().decode()
    assert 'voice_kiosk_conversations_total{outcome="' in after
    assert "voice_kiosk_audio_in_seconds_total" in after


async def test_the_cost_of_a_scripted_conversation_is_the_hand_computed_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The emulator's usage for this one turn (tools/realtime_emulator/responses.py: text
    tokens are characters / 4 of the instructions and the tools, audio is 10 tokens a
    second in and 20 out) priced by hand at gpt-realtime-2.1's $ per 1M tokens."""
    caplog.set_level("INFO", "device.metrics.service")
    settings = _settings(tmp_path)
    metrics, sink = _service(settings), Reports()
    async with Emulator(one_turn(), on_event=validate) as emu:
        await _daemon(settings, emu.url, metrics, sink).run()
    usage = next(e for e in emu.sent if e["type"] == "response.done")["response"]["usage"]
    inp, out = usage["input_token_details"], usage["output_token_details"]
    # what the emulator reported for this conversation, as it is today
    assert (inp["text_tokens"], inp["audio_tokens"], inp["cached_tokens"]) == (
        HAND["text_in"],
        HAND["audio_in"],
        0,
    )
    assert (out["text_tokens"], out["audio_tokens"]) == (HAND["text_out"], HAND["audio_out"])
    [cost] = sink.of(CostReported)
    assert cost.cost == HAND_COST
    assert cost.conversation_cost == HAND_COST
    assert load_ledger(tmp_ledger(settings)).days == {cost.day: HAND_COST}  # kept
    [line] = [r for r in caplog.records if r.getMessage().startswith("conversation conv-1")]
    assert f"cost_usd={HAND_COST:.6f}" in line.getMessage()
    assert getattr(line, "VK_COST_USD") == f"{HAND_COST:.6f}"  # noqa: B009 (a journal field)


HAND = {"text_in": 25, "audio_in": 22, "text_out": 4, "audio_out": 25}
# 25 x $4 + 22 x $32 + 4 x $24 + 25 x $64 = $100 + $704 + $96 + $1,600 = $2,500 per 1M
HAND_COST = Decimal("0.0025")


async def test_the_daily_budget_ends_a_conversation_and_refuses_the_next_visitor(
    tmp_path: Path,
) -> None:
    """The budget survives a restart: the day's spend so far is in the state folder. The
    daemon runs until stopped (a second visitor comes after the first conversation)."""
    today = local_day(time.time(), None)
    save_ledger(tmp_path / FILE_NAME, Ledger({today: Decimal("0.009")}))
    caller = joined_wavs(tmp_path, [QUESTION, silence_wav(tmp_path, "quiet", 16.0)])
    settings = _settings(tmp_path, caller, daily_budget=0.01, limit_action="end")
    metrics, sink = _service(settings), Reports()
    async with Emulator(one_turn(), on_event=validate) as emu:
        daemon = _daemon(settings, emu.url, metrics, sink, exits=False)
        task = asyncio.create_task(daemon.run())
        await eventually(lambda: sink.of(ConversationEnded), task=task, what="the end")
        daemon.trigger(Trigger(TriggerAction.START, "button"))
        await eventually(lambda: sink.of(VisitorRefused), task=task, what="the refusal")
        await eventually(
            lambda: [r for r in sink.of(PromptPlayed) if r.name == "offline"],
            task=task,
            what="the offline prompt",
        )
        daemon.stop()
        await task
    [limit] = sink.of(LimitReached)
    assert limit.scope == "day"
    assert limit.spent == Decimal("0.009") + HAND_COST
    assert load_ledger(tmp_path / FILE_NAME).days == {today: limit.spent}
    assert sink.of(ConversationEnded)[0].outcome is Outcome.OVER_BUDGET
    played = [r.name for r in sink.of(PromptPlayed)]
    assert "limit" in played and played[-1] == "offline"
    scraped = metrics.scrape().decode()
    assert 'voice_kiosk_cost_limits_total{scope="day"} 1.0' in scraped
    assert 'voice_kiosk_visitors_refused_total{reason="daily_budget"} 1.0' in scraped
    assert 'voice_kiosk_conversations_total{outcome="over_budget"} 1.0' in scraped
