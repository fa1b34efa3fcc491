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
from pathlib import Path

import numpy as np
import pytest

from device.audio.pyaudio_io import PyAudioMic, PyAudioSpeaker
from device.conversation import State
from tests.helpers import (
    ASKED,
    QUESTION,
    answered,
    failed_opens,
    one_turn,
    serving,
    settings_for_pulse,
    validate,
)
from tests.pulse import PulseServer, read_wav_mono, sound_span_s
from tools.realtime_emulator import Emulator

ANSWER = "We are open from nine to five."


def samples(pcm: bytes | bytearray) -> np.ndarray:
    return np.frombuffer(bytes(pcm), dtype="<i2")


@pytest.mark.timeout(40)
async def test_a_question_into_the_mic_reaches_the_server_and_is_answered(
    pulse: PulseServer,
) -> None:
    async with (
        Emulator(one_turn(ANSWER), on_event=validate) as emu,
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
        Emulator(one_turn(ANSWER), on_event=validate) as emu,
        serving(emu, settings_for_pulse()) as s,
    ):
        speaker = s.daemon.audio.speaker
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
        Emulator(one_turn(ANSWER), on_event=validate) as emu,
        serving(emu, settings_for_pulse(retry_s=0.5)) as s,
    ):
        await s.ready_to_listen()
        mic = s.daemon.audio.mic
        assert isinstance(mic, PyAudioMic)
        failures = failed_opens(mic)
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
            # retries fail meanwhile: reported once per outage
            await s.until(lambda: len(failures) >= 2, 10, "two retries that failed")
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
