"""The daemon with real PyAudio devices: a private PulseAudio's virtual mic and speaker.

The daemon runs in-process with PyAudioMic / PyAudioSpeaker on the `pulse` fixture's virtual
devices and talks to the in-process Realtime emulator; every event in both directions is
validated against the official `openai` types. A spoken question is played into the
virtual mic (``paplay``), the reply is recorded from the speaker's monitor (``parecord``).
A PyAudio mic never "ends", so each test stops the daemon itself once the engine shows what
it waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device.audio.pyaudio_io import PyAudioMic, PyAudioSpeaker
from device.audio.settings import PyAudioInput, PyAudioOutput
from device.cli.main import wire_barge_in
from device.config.loader import load_settings
from device.config.settings import Settings
from device.conversation import State
from device.daemon.daemon import Daemon, RunOptions
from device.prompts.library import PromptLibrary
from device.realtime.link import RealtimeLink
from device.services.summary import RunSummary
from tests.pulse import PulseServer, read_wav_mono, sound_span_s
from tests.test_daemon import KEY, validate
from tools.realtime_emulator import Emulator, Scenario

ROOT = Path(__file__).resolve().parents[2]
QUESTION = ROOT / "tools/demo_audio/question.wav"
ASKED = "What are your opening hours?"
ANSWER = "We are open from nine to five."


def settings_for_pulse(*, retry_s: float = 3.0) -> Settings:
    base = load_settings(ROOT / "firmware_config/examples/demo.yaml")
    audio = dataclasses.replace(
        base.audio,
        input=PyAudioInput(device=None, rate_hz=16000, channels=1, frame_ms=20, retry_s=retry_s),
        output=PyAudioOutput(device=None, rate_hz=48000, channels=1, buffer_ms=10),
    )
    conversation = dataclasses.replace(base.conversation, start="at_startup")
    return dataclasses.replace(base, audio=audio, conversation=conversation)


def one_turn() -> Scenario:
    return Scenario.from_dict({"turns": [{"user": ASKED, "reply": ANSWER}]})


class Served:
    """A daemon serving in a task, with what the tests look at."""

    def __init__(
        self, daemon: Daemon, task: asyncio.Task[RunSummary], replies: dict[str, bytearray]
    ) -> None:
        self.daemon = daemon
        self.task = task
        self.replies = replies  # item id -> the 24 kHz PCM the daemon handed the speaker
        self.timeline = daemon.timeline

    @property
    def summary(self) -> RunSummary:
        return self.daemon.summary

    @property
    def state(self) -> State:
        return self.daemon.engine.state

    def timeline_text(self) -> str:
        assert isinstance(self.timeline, io.StringIO)
        return self.timeline.getvalue()

    async def until(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll ``condition`` (10 ms); fail naming ``what`` on timeout or if the daemon died."""

        async def poll() -> None:
            while not condition():
                if self.task.done():
                    self.task.result()  # raises what killed it
                    raise AssertionError(f"the daemon stopped while waiting for {what}")
                await asyncio.sleep(0.01)

        try:
            await asyncio.wait_for(poll(), timeout_s)
        except TimeoutError:
            raise AssertionError(
                f"timed out after {timeout_s} s waiting for {what}; state {self.state.value},"
                f" summary {self.summary.to_json()}\ntimeline:\n{self.timeline_text()}"
            ) from None

    async def ready_to_listen(self, conversation: str = "conv-1") -> None:
        """The session is up and the mic delivered 1 s more (the gate learnt the room)."""
        pipeline = self.daemon.pipeline
        before = pipeline.captured_bytes if pipeline is not None else 0
        await self.until(
            lambda: (
                self.state is State.LISTENING
                and self.daemon.engine.conversation_id == conversation
                and self.daemon.pipeline is not None
                and self.daemon.pipeline.captured_bytes >= before + 32000
            ),
            20,
            "the daemon listening with the mic running",
        )

    async def ask(self, pulse: PulseServer, wav: Path = QUESTION) -> None:
        played = pulse.play_into_mic(wav)
        assert await asyncio.to_thread(played.wait, 15) == 0


@contextlib.asynccontextmanager
async def serving(
    emu: Emulator, settings: Settings, *, local_vad: Any = None
) -> AsyncIterator[Served]:
    """Run a Daemon on the virtual devices (mic health forwarded like device/cli/main.py);
    ``local_vad`` (a VadListener) is wired as device/cli/main.py wires it."""

    async def connect() -> RealtimeLink:
        return await RealtimeLink.connect(emu.url, settings.realtime.model, KEY, timeout_s=5)

    holder: dict[str, Daemon] = {}

    def on_health(ok: bool, message: str) -> None:  # as device/cli/main.py _serve does
        holder["daemon"].health(ok, message)

    assert isinstance(settings.audio.input, PyAudioInput)
    assert isinstance(settings.audio.output, PyAudioOutput)
    mic = PyAudioMic(settings.audio.input, on_health=on_health)
    speaker = PyAudioSpeaker(settings.audio.output)
    replies: dict[str, bytearray] = {}
    write = speaker.write

    def recording_write(item_id: str, pcm: bytes) -> None:  # what the daemon plays, kept
        replies.setdefault(item_id, bytearray()).extend(pcm)
        write(item_id, pcm)

    speaker.write = recording_write  # type: ignore[method-assign]
    adapters = wire_barge_in(settings, local_vad, speaker)
    daemon = Daemon(
        settings,
        mic=mic,
        speaker=speaker,
        connect=connect,
        prompts=PromptLibrary.load(settings.conversation.prompts_dir),
        options=RunOptions(),
        timeline=io.StringIO(),
        local_vad=local_vad,
        **adapters,
    )
    holder["daemon"] = daemon
    task = asyncio.create_task(daemon.run())
    served = Served(daemon, task, replies)
    try:
        yield served
    finally:
        daemon.stop()
        await stopped(task, 15)


async def stopped(task: asyncio.Task[RunSummary], timeout_s: float) -> None:
    """Wait for ``daemon.run()`` to return; if it hangs, fail showing where its tasks are."""
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if done:
        task.result()
        return
    where = io.StringIO()
    for t in asyncio.all_tasks():
        if t is not asyncio.current_task():
            print(f"-- task {t.get_name()}:", file=where)
            t.print_stack(limit=6, file=where)
    task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(task, 5)
    raise AssertionError(
        f"daemon.run() did not return within {timeout_s:g} s of stop(); tasks:\n{where.getvalue()}"
    )


def samples(pcm: bytes | bytearray) -> np.ndarray:
    return np.frombuffer(bytes(pcm), dtype="<i2")


def answered(s: Served, turns: int = 1) -> bool:
    """The caller's turn was answered and the reply has played: listening again."""
    return (
        s.summary.turns == turns
        and len(s.summary.assistant_transcripts) == turns
        and s.state is State.LISTENING
    )


@pytest.mark.timeout(40)
async def test_a_question_into_the_mic_reaches_the_server_and_is_answered(
    pulse: PulseServer,
) -> None:
    async with (
        Emulator(one_turn(), on_event=validate) as emu,
        serving(emu, settings_for_pulse()) as s,
    ):
        await s.ready_to_listen()
        assert emu.audio_received_ms == 0  # room silence is not uploaded
        await s.ask(pulse)
        await s.until(lambda: answered(s), 15, "the answer to play out")
    summary = s.summary
    assert emu.sessions == 1
    # the emulator's VAD heard one turn, and the server answered it once
    assert len(emu.of_type("server", "input_audio_buffer.speech_started")) == 1
    assert len(emu.of_type("server", "input_audio_buffer.speech_stopped")) == 1
    assert len(emu.of_type("server", "response.done")) == 1
    heard_ms = emu.audio_received_ms
    speech, rate = read_wav_mono(QUESTION)
    span_ms = sound_span_s(speech, rate) * 1000  # first to last loud sample: ~1.46 s
    # the gate uploads the speech, its 300 ms pre-roll and 800 ms hangover, not the silence
    assert span_ms + 300 <= heard_ms <= span_ms + 300 + 800 + 400, (heard_ms, span_ms)
    assert summary.user_transcripts == [ASKED]
    assert summary.assistant_transcripts == [ANSWER]
    assert summary.turns == 1 and len(summary.first_audio_latency_ms) == 1
    assert summary.reply_audio_ms > 1000
    assert summary.errors == []
    assert summary.conversations == 1  # ended by the shut-down


@pytest.mark.timeout(40)
async def test_the_reply_plays_on_the_speaker_for_its_duration(
    pulse: PulseServer, tmp_path: Path
) -> None:
    recording = tmp_path / "speaker.wav"
    async with (
        Emulator(one_turn(), on_event=validate) as emu,
        serving(emu, settings_for_pulse()) as s,
    ):
        speaker = s.daemon.speaker
        assert isinstance(speaker, PyAudioSpeaker)
        assert await asyncio.to_thread(speaker.wait_open, 10), speaker.error
        recorder = await asyncio.to_thread(pulse.record_speaker, recording)
        try:
            await s.ready_to_listen()
            await s.ask(pulse)
            await s.until(lambda: answered(s), 15, "the answer to play out")
            await asyncio.sleep(speaker.pending_output_s() + 0.1)  # the device's latency
        finally:
            await asyncio.to_thread(pulse.stop_recording, recorder)
        played_ms = {item: speaker.played_ms(item) for item in s.replies}
    summary = s.summary
    assert summary.assistant_transcripts == [ANSWER] and summary.errors == []
    assert len(s.replies) == 1 and summary.prompt_audio_ms == 0  # the reply, nothing else
    item, pcm = next(iter(s.replies.items()))
    reply = samples(pcm)
    assert len(reply) / 24 == pytest.approx(summary.reply_audio_ms, abs=1)
    assert played_ms[item] == pytest.approx(summary.reply_audio_ms, abs=5)  # all of it
    # espeak-ng pads its speech with silence: compare what sounds, from first to last sample
    expected_s = sound_span_s(reply, 24000)
    assert expected_s > 1.0
    heard, rate = read_wav_mono(recording)
    assert sound_span_s(heard, rate) == pytest.approx(expected_s, rel=0.05)


@pytest.mark.timeout(60)
async def test_an_unplugged_mic_is_reported_and_the_daemon_serves_after_replug(
    pulse: PulseServer,
) -> None:
    async with (
        Emulator(one_turn(), on_event=validate) as emu,
        serving(emu, settings_for_pulse(retry_s=0.5)) as s,
    ):
        await s.ready_to_listen()
        pulse.unplug_mic()
        try:
            await s.until(
                lambda: any(e["code"] == "audio" for e in s.summary.errors),
                10,
                "the microphone outage in the summary",
            )
            [outage] = s.summary.errors
            assert outage["code"] == "audio"
            assert outage["message"].startswith("microphone 'default' ")
            assert "retrying every 0.5 s" in outage["message"]
            # nobody can be heard: the conversation ends with the error prompt, and the
            # daemon itself keeps serving
            assert s.state is State.ERROR
            assert s.summary.conversations == 1
            assert s.summary.prompt_audio_ms > 0
            await asyncio.sleep(1.2)  # retries fail meanwhile: reported once per outage
            assert s.summary.errors == [outage]
            assert not s.task.done() and s.state is State.ERROR
        finally:
            pulse.replug_mic()
        await s.until(
            lambda: "microphone 'default' is back" in s.timeline_text(), 10, "the recovery note"
        )
        assert s.state is State.IDLE  # ready for the next caller
        # the talk button starts the next conversation; its question is answered
        s.daemon.request_start("button")
        await s.ready_to_listen("conv-2")
        await s.ask(pulse)
        await s.until(lambda: answered(s), 15, "the answer after the replug")
    summary = s.summary
    assert emu.sessions == 2
    assert summary.errors == [outage]
    assert summary.user_transcripts == [ASKED]
    assert summary.assistant_transcripts == [ANSWER]
    assert summary.reply_audio_ms > 1000
    assert summary.conversations == 2
