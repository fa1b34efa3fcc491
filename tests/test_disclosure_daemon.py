"""Disclosure and consent, end to end: the daemon on a file caller against the local
Realtime emulator. The disclosure prompt plays as the conversation starts, the caller's
first audio goes up as early as without it, the session's instructions carry the
truthful-AI line, and the caller's first words answer the consent question (and are
answered by the model all the same).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from device.config.settings import Settings
from device.conversation.disclosure import AI_TRUTH
from device.conversation.reports import (
    CallerSaid,
    ConsentAnswered,
    ConversationStarted,
    PromptPlayed,
    Report,
)
from device.prompts.library import PromptLibrary
from device.services.summary import RunSummary
from tests.helpers import ANSWER, QUESTION, one_turn, run_daemon, settings_for, validate
from tools.realtime_emulator import Emulator, Scenario

DISCLOSURE = "Hello, I'm an automated assistant."
QUESTION_TEXT = "May I record this conversation? Please say yes or no."


class Timed:
    """A report sink and an audio tap: each report and the caller's chunks, with times."""

    def __init__(self) -> None:
        self.reports: list[tuple[float, Report]] = []
        self.caller_chunks: list[float] = []

    def report(self, t_ms: float, report: Report) -> None:
        self.reports.append((t_ms, report))

    def caller_audio(self, t_ms: float, pcm: bytes) -> None:
        self.caller_chunks.append(t_ms)

    def reply_audio(self, t_ms: float, item_id: str, pcm: bytes) -> None:
        pass

    def of(self, kind: type[Any]) -> list[Any]:
        return [r for _, r in self.reports if isinstance(r, kind)]

    def first_upload_ms(self) -> float:
        """From the conversation's start to its first caller chunk on the audio lane."""
        start = next(t for t, r in self.reports if isinstance(r, ConversationStarted))
        return self.caller_chunks[0] - start


def with_conversation(settings: Settings, **conversation: Any) -> Settings:
    return dataclasses.replace(
        settings, conversation=dataclasses.replace(settings.conversation, **conversation)
    )


async def run(settings: Settings, url: str, seen: Timed) -> RunSummary:
    # the packaged prompts: disclosure.wav, consent.wav
    return await run_daemon(
        settings, url, prompts=PromptLibrary.load(None), sinks=[seen], taps=[seen]
    )


@pytest.mark.slow
async def test_the_disclosure_plays_and_the_first_audio_goes_up_as_early(tmp_path: Path) -> None:
    plain = settings_for(tmp_path, QUESTION, speed=1.0)
    disclosed = with_conversation(plain, disclosure=DISCLOSURE)
    firsts: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(2):  # alternating, so a busy moment hits both alike
        for name, settings in (("with", disclosed), ("without", plain)):
            seen = Timed()
            async with Emulator(one_turn(), on_event=validate) as emu:
                summary = await run(settings, emu.url, seen)
            assert summary.assistant_transcripts == [ANSWER] and summary.errors == []
            firsts[name].append(seen.first_upload_ms())
            prompts = [r.name for r in seen.of(PromptPlayed)]
            update = next(e for e in emu.received if e["type"] == "session.update")
            instructions = update["session"]["instructions"]
            if name == "with":
                assert prompts[:1] == ["disclosure"]  # said first, as the visit began
                assert AI_TRUTH in instructions and DISCLOSURE in instructions
            else:
                assert "disclosure" not in prompts and AI_TRUTH not in instructions
    # the upload does not wait for the prompt (1.8 s long): no later than without it
    assert min(firsts["with"]) <= max(firsts["without"]) + 50, firsts


@pytest.mark.slow
async def test_the_callers_first_words_answer_the_consent_question(tmp_path: Path) -> None:
    base = settings_for(tmp_path, QUESTION)
    recording = dataclasses.replace(
        base.recording, transcripts=True, audio=True, consent="required"
    )
    settings = with_conversation(
        dataclasses.replace(base, recording=recording),
        disclosure=DISCLOSURE,
        consent_question=QUESTION_TEXT,
    )
    said = "Yes, that's fine. What are your opening hours?"
    scenario = Scenario.from_dict({"turns": [{"user": said, "reply": ANSWER}]})
    seen = Timed()
    async with Emulator(scenario, on_event=validate) as emu:
        summary = await run(settings, emu.url, seen)
    assert [r.name for r in seen.of(PromptPlayed)][:2] == ["disclosure", "consent"]
    assert seen.of(ConsentAnswered) == [ConsentAnswered(True, "caller")]
    assert seen.of(CallerSaid) == [CallerSaid(said)]
    # the turn is the caller's all the same: the model answered it
    assert summary.assistant_transcripts == [ANSWER] and summary.errors == []
    update = next(e for e in emu.received if e["type"] == "session.update")
    assert QUESTION_TEXT in update["session"]["instructions"]
