"""The device's own prompts are not uploaded as the caller, end to end: the daemon on a
file caller whose mic hears the speaker (``echo_db``, as a kiosk's does, echo mode
``reference`` with the local speech detector), against the local Realtime emulator and
its energy turn detection. The AI disclosure plays as the conversation starts.

- A caller who waits for the disclosure to end: its echo alone is never a turn (the
  model is asked once, by the caller's question). The same rig with the echo trusted to
  the microphone (``hardware``: nothing held) shows what the hold prevents: the echo is
  a turn of its own, answered before the caller spoke.
- A caller who talks over the disclosure is heard from their first words.
"""

from __future__ import annotations

import dataclasses
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device.audio.settings import FileInput, FileOutput
from device.audio.wav import WavMic, WavSpeaker
from device.config.settings import Settings
from device.conversation.reports import CallerSaid, Note
from device.daemon.daemon import Daemon
from device.daemon.drain import RunOptions
from device.daemon.inbox import Inbox
from device.prompts.library import PromptLibrary
from device.vad.listener import VadListener
from device.vad.settings import EchoMode
from tests.helpers import ANSWER, ASKED, QUESTION, Seen, connect_to, settings_for, validate
from tools.realtime_emulator import Emulator, Scenario

DISCLOSURE = "Hello, I'm an automated assistant."


def delayed(tmp_path: Path, source: Path, silence_ms: int) -> Path:
    """``source`` after ``silence_ms`` of silence (a caller who waits before speaking)."""
    with wave.open(str(source), "rb") as w:
        rate, pcm = w.getframerate(), w.readframes(w.getnframes())
    path = tmp_path / f"after-{silence_ms}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.zeros(rate * silence_ms // 1000, np.int16).tobytes() + pcm)
    return path


def on_echo_rig(tmp_path: Path, caller: Path, *, mode: EchoMode = "reference") -> Settings:
    """`settings_for` in real time with the mic hearing the speaker at -12 dB, the
    disclosure on, the caller on the wall clock."""
    settings = settings_for(tmp_path, caller, speed=1.0)
    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)
    mic = dataclasses.replace(settings.audio.input, echo_db=-12.0, caller="timeline")
    speaker = dataclasses.replace(settings.audio.output, speed=1.0)
    echo = dataclasses.replace(settings.audio.echo, mode=mode)
    audio = dataclasses.replace(settings.audio, input=mic, output=speaker, echo=echo)
    conversation = dataclasses.replace(settings.conversation, disclosure=DISCLOSURE)
    return dataclasses.replace(settings, audio=audio, conversation=conversation)


def said(seen: Seen) -> list[CallerSaid]:
    return [r for r in seen.reports if isinstance(r, CallerSaid)]


def two_turns() -> Scenario:
    """Whatever the emulator hears first is answered "First."; then the question."""
    return Scenario.from_dict(
        {"turns": [{"user": ASKED, "reply": "First."}, {"user": ASKED, "reply": ANSWER}]}
    )


LOUD_DBFS = -40.0  # a 40 ms block this loud is speech (the caller's, or the prompt's echo)


def loud_ms(pcm: np.ndarray, rate_hz: int) -> float:
    """Ms of ``pcm`` in 40 ms blocks at ``LOUD_DBFS`` or louder."""
    n = rate_hz // 25
    blocks = pcm[: len(pcm) // n * n].astype(np.float64).reshape(-1, n) / 32768.0
    rms = np.sqrt(np.mean(blocks**2, axis=1) + 1e-12)
    return float(np.sum(20 * np.log10(rms) >= LOUD_DBFS)) * 40.0


class Uploaded:
    """An audio tap: how much of what went up to the server was loud (speech)."""

    def __init__(self) -> None:
        self.loud_ms = 0.0

    def caller_audio(self, t_ms: float, pcm: bytes) -> None:
        self.loud_ms += loud_ms(np.frombuffer(pcm, np.int16), 24000)  # (40 ms chunks)

    def reply_audio(self, t_ms: float, item_id: str, pcm: bytes) -> None:
        pass


async def converse(
    settings: Settings, uploaded: Uploaded | None = None
) -> tuple[Any, Seen, list[dict[str, Any]]]:
    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)
    seen = Seen()
    mic, speaker = WavMic(settings.audio.input), WavSpeaker(settings.audio.output)
    mic.hear(speaker)  # the mic hears the speaker at echo_db, as `voice-kiosk run` wires it
    inbox = Inbox()  # the local speech detector as `voice-kiosk run` builds it (serve.py)
    vad = VadListener(
        settings.audio.barge_in,
        settings.audio.echo,
        on_speech=inbox.local_speech,
        on_pause=inbox.local_pause,
    )
    if settings.audio.echo.judged_mode == "reference":
        speaker.on_played = vad.reference
    async with Emulator(two_turns(), on_event=validate) as emu:
        daemon = Daemon(
            settings,
            mic=mic,
            speaker=speaker,
            connect=connect_to(emu.url, settings),
            prompts=PromptLibrary.load(None),  # the packaged disclosure.wav
            options=RunOptions(exit_when_input_ends=True, drain_timeout_s=20),
            sinks=[seen],
            taps=[uploaded] if uploaded is not None else [],
            inbox=inbox,
            local_vad=vad,
        )
        summary = await daemon.run()
        return summary, seen, list(emu.received)


@pytest.mark.slow
async def test_the_disclosures_echo_is_never_a_turn(tmp_path: Path) -> None:
    caller = delayed(tmp_path, QUESTION, 2600)  # the disclosure is 1.8 s long
    summary, seen, _ = await converse(on_echo_rig(tmp_path, caller))
    assert seen.prompts()[:1] == ["disclosure"]
    # one turn: the caller's question, answered by the first reply the emulator has
    assert summary.assistant_transcripts == ["First."], summary.assistant_transcripts
    assert said(seen) == [CallerSaid(ASKED)]
    assert summary.errors == []


@pytest.mark.slow
async def test_without_the_hold_the_echo_is_answered_before_the_caller_speaks(
    tmp_path: Path,
) -> None:
    caller = delayed(tmp_path, QUESTION, 2600)
    summary, seen, _ = await converse(on_echo_rig(tmp_path, caller, mode="hardware"))
    # what the hold prevents: the echo is a turn ("First."), the question a second one
    assert len(said(seen)) == 2, said(seen)
    assert summary.assistant_transcripts[:1] == ["First."]


@pytest.mark.slow
async def test_a_caller_talking_over_the_disclosure_is_heard_whole(tmp_path: Path) -> None:
    caller = delayed(tmp_path, QUESTION, 300)  # starts 0.3 s into the disclosure
    uploaded = Uploaded()
    summary, seen, _ = await converse(on_echo_rig(tmp_path, caller), uploaded)
    notes = [r.text for r in seen.reports if isinstance(r, Note)]
    assert any("talked over the prompt" in n for n in notes), notes
    assert said(seen) == [CallerSaid(ASKED)]
    assert summary.assistant_transcripts == ["First."]
    # every loud block of the question went up (with the prompt's echo under it): none of
    # the words said over the prompt was left behind
    with wave.open(str(QUESTION), "rb") as w:
        question = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        rate = w.getframerate()
    assert uploaded.loud_ms >= loud_ms(question, rate) - 80, uploaded.loud_ms
