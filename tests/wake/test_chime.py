"""The wake chime: the committed WAV is the script's, and a wake plays it through the daemon."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from device.audio.settings import FileInput, FileOutput
from device.audio.wav import WavMic, WavSpeaker, read_wav
from device.conversation.reports import ConversationStarted, PromptPlayed
from device.daemon.daemon import Daemon
from device.daemon.inbox import Inbox
from device.prompts.library import PromptLibrary
from device.wake.listener import WakeListener
from device.wake.oww import detector_from_settings
from tests.helpers import (
    ANSWER,
    DEMO_AUDIO,
    Seen,
    connect_to,
    eventually,
    joined_wavs,
    one_turn,
    settings_for,
    silence_wav,
    stopped,
    validate,
)
from tools.make_chime import DEFAULT_OUT, LENGTH_MS, RATE_HZ, chime
from tools.realtime_emulator import Emulator

PROMPTS = DEFAULT_OUT.parent


def test_the_committed_chime_is_what_make_chime_makes() -> None:
    pcm, rate_hz, channels = read_wav(DEFAULT_OUT)
    committed = np.frombuffer(pcm, dtype="<i2")
    made = chime()
    assert (rate_hz, channels) == (RATE_HZ, 1)
    assert committed.size == made.size == RATE_HZ * LENGTH_MS // 1000 <= RATE_HZ // 4
    # the same arithmetic; another CPU's sine may round one sample one step the other way
    assert np.abs(committed.astype(np.int32) - made).max() <= 1
    assert 0.2 < np.abs(made).max() / 32767 < 0.5  # heard, never louder than speech
    assert made[-1] == 0  # ends in silence: no click


@pytest.mark.slow
async def test_a_wake_plays_the_chime_and_the_question_still_reaches_the_server(
    tmp_path: Path,
) -> None:
    caller = joined_wavs(
        tmp_path, [silence_wav(tmp_path, "lead", 1.5), DEMO_AUDIO / "wake-question.wav"]
    )
    base = settings_for(tmp_path, caller)
    settings = dataclasses.replace(
        base,
        audio=dataclasses.replace(
            base.audio,
            input=FileInput(path=caller, speed=1.0, tail_silence_ms=60_000, caller="timeline"),
            output=FileOutput(path=tmp_path / "reply.wav", speed=1.0),
        ),
        conversation=dataclasses.replace(base.conversation, start="on_signal", prompts_dir=PROMPTS),
        wake=dataclasses.replace(base.wake, enabled=True, chime="chime"),
    )
    seen = Seen()
    inbox = Inbox()
    wake = WakeListener(detector_from_settings(settings.wake), inbox.wake_heard)
    async with Emulator(one_turn(), on_event=validate) as emu:
        assert isinstance(settings.audio.input, FileInput)
        assert isinstance(settings.audio.output, FileOutput)
        daemon = Daemon(
            settings,
            mic=WavMic(settings.audio.input),
            speaker=WavSpeaker(settings.audio.output),
            connect=connect_to(emu.url, settings),
            inbox=inbox,
            wake=wake,
            prompts=PromptLibrary.load(PROMPTS),
            sinks=[seen],
        )
        task = asyncio.create_task(daemon.run())
        try:
            await eventually(lambda: daemon.summary.assistant_transcripts == [ANSWER], 20)
        finally:
            daemon.stop()
            await stopped(task, 15)
        speech = [e for e in emu.sent if e["type"] == "input_audio_buffer.speech_started"]
    kinds = [type(r) for r in seen.reports if isinstance(r, PromptPlayed | ConversationStarted)]
    played = [r for r in seen.reports if isinstance(r, PromptPlayed)]
    # the chime, then the conversation, started by the wake word
    assert kinds[:2] == [PromptPlayed, ConversationStarted]
    assert played[0].name == "chime" and played[0].ms == LENGTH_MS
    started = next(r for r in seen.reports if isinstance(r, ConversationStarted))
    assert started.source.startswith("wake word hey_jarvis")
    # the speaker played the chime before the answer
    pcm, rate_hz, _ = read_wav(tmp_path / "reply.wav")
    out = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    ref = chime(rate_hz).astype(np.float64)
    lag = int(np.argmax(np.correlate(out[: rate_hz * 3], ref, mode="valid")))
    match = out[lag : lag + ref.size]
    assert np.corrcoef(match, ref)[0, 1] > 0.99
    # the question after the phrase is uploaded from its first word: the server hears speech
    # from the start of the audio, as without a chime
    assert speech and speech[0]["audio_start_ms"] <= 300
