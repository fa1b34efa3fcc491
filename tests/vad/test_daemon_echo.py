"""The daemon on the PulseAudio echo rig (the speaker reaches the mic 12 dB down): it does
not answer its own voice, and a caller still cuts in.

- ``reference`` (and ``half_duplex``): the daemon records the raw mic; while it speaks that
  audio is held back from the server, whose VAD would take the device's own voice for a
  caller and answer it, over and over; a local barge-in sends the caller's words from
  their start.
- ``software`` with ``raw_input``: the daemon records the WebRTC canceller's source
  (``ec_mic``) and plays through its sink (``ec_spk``), as a site set up from the README
  does; ``raw_input: kiosk_raw`` names an ALSA pcm on the mic under the canceller (the
  README's asound.conf snippet, here in ``$XDG_CONFIG_HOME/alsa/asoundrc``), where the
  local speech detector listens, weighed against what the speaker plays.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from device.conversation import State
from device.vad.listener import VadListener
from device.vad.settings import EchoSettings
from tests.helpers import ASKED, Served, answered, serving, settings_for_pulse, validate
from tests.pulse import EC_SINK, EC_SOURCE, MIC_SOURCE, PulseServer, alsa_pulse_pcm
from tests.vad.rig import ECHO_GAIN_DB
from tests.vad.sounds import Sounds, make_sounds
from tools.realtime_emulator import Emulator, Scenario

RAW_PCM = "kiosk_raw"
# the README's recipe: the canceller's analog gain control turns its master source (the
# raw mic, for every reader) down by up to 20 dB while the device talks; off, the raw mic
# stays as the room is, and the cancelled source keeps its digital gain control
RECIPE_EC_ARGS = 'aec_args="analog_gain_control=0"'

LONG_REPLY = (
    "Our opening hours are from nine in the morning to five in the afternoon on weekdays, "
    "and from ten to four on Saturdays; on Sundays and public holidays we are closed."
)


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Sounds:
    return make_sounds(tmp_path_factory.mktemp("sounds"))


@pytest.fixture
def raw_mic_pcm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An ALSA pcm on the raw mic, as the README's /etc/asound.conf snippet makes one."""
    alsa_pulse_pcm(tmp_path, RAW_PCM, MIC_SOURCE)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return RAW_PCM


async def caller_cuts_into_the_next_reply(s: Served, pulse: PulseServer, sounds: Sounds) -> None:
    """Ask again; 1.5 s into the reply the caller speaks over it: wait for the interruption."""
    await s.ask(pulse)
    await s.until(lambda: s.state is State.SPEAKING, 30, "the second reply")
    await asyncio.sleep(1.5)
    caller = pulse.play_into_mic(sounds.caller)
    await s.until(lambda: s.summary.interruptions == 1, 10, "the interruption")
    await asyncio.to_thread(caller.wait, 10)


@pytest.mark.timeout(120)
async def test_software_mode_on_the_raw_mic_ignores_its_own_voice_and_stops_for_a_caller(
    pulse: PulseServer, sounds: Sounds, raw_mic_pcm: str
) -> None:
    base = settings_for_pulse()
    echo = EchoSettings(mode="software", raw_input=raw_mic_pcm)
    settings = dataclasses.replace(base, audio=dataclasses.replace(base.audio, echo=echo))
    box: dict[str, object] = {}
    vad = VadListener(
        settings.audio.barge_in,
        settings.audio.echo,
        on_speech=lambda start: box["daemon"].inbox.local_speech(start),  # type: ignore[attr-defined]
    )
    assert vad.mode == "reference" and vad.echo is not None
    scenario = Scenario.from_dict(
        {"turns": [{"user": ASKED, "reply": LONG_REPLY}, {"user": ASKED, "reply": LONG_REPLY}]}
    )
    pulse.add_echo(ECHO_GAIN_DB)
    pulse.add_echo_cancel(RECIPE_EC_ARGS)
    try:
        with pulse.use(source=EC_SOURCE, sink=EC_SINK):
            async with (
                Emulator(scenario, on_event=validate) as emu,
                serving(emu, settings, local_vad=vad) as s,
            ):
                box["daemon"] = s.daemon
                await s.ready_to_listen()
                assert s.daemon.audio.pipeline is not None
                # the detector hears the raw mic
                assert s.daemon.audio.pipeline.subscribers_16k == 0
                # nobody speaks over the first reply: it plays to its end
                await s.ask(pulse)
                await s.until(lambda: answered(s), 60, "the first reply played out")
                assert s.summary.interruptions == 0, s.timeline_text()
                # no barge-in on its own voice; a pause (a hiccup of <= 240 ms) at most once:
                # seen once on a loaded CI machine, never on the bench (barge_in_hiccups)
                assert vad.detections == 0 and vad.holds <= 1
                assert vad.audio_s > 3.0  # it listened to the raw mic while the device spoke
                assert vad.echo.delay_ms is not None  # and found the echo in it
                # the caller cuts in 1.5 s into the second reply: the local detector stops
                # it (the server hears nothing of it while the device speaks)
                await caller_cuts_into_the_next_reply(s, pulse, sounds)
                assert vad.detections == 1, s.timeline_text()
                assert "interrupt  #1 by local speech detection" in s.timeline_text()
    finally:
        pulse.remove_echo()
        vad.close()


@pytest.mark.timeout(60)
async def test_a_missing_raw_mic_is_one_line_and_the_daemon_serves_on(
    pulse: PulseServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The raw mic is only for barge-in: without it the caller is still heard and
    answered (not the error state of a missing microphone)."""
    base = settings_for_pulse()
    echo = EchoSettings(mode="software", raw_input="no-such-mic")
    settings = dataclasses.replace(base, audio=dataclasses.replace(base.audio, echo=echo))
    vad = VadListener(settings.audio.barge_in, settings.audio.echo, on_speech=lambda s: None)
    try:
        async with (
            Emulator(
                Scenario.from_dict({"turns": [{"user": ASKED, "reply": "Nine to five."}]}),
                on_event=validate,
            ) as emu,
            serving(emu, settings, local_vad=vad) as s,
        ):
            await s.ready_to_listen()
            await s.ask(pulse)
            await s.until(lambda: answered(s), 30, "the answer")
    finally:
        vad.close()
    lines = [r.getMessage() for r in caplog.records if "barge-in mic" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "'no-such-mic' not found" in lines[0] and "left to the server" in lines[0]
    assert "\n" not in lines[0], lines


@pytest.mark.timeout(120)
async def test_reference_mode_does_not_answer_its_own_echo_and_a_caller_is_heard(
    pulse: PulseServer, sounds: Sounds
) -> None:
    """The raw mic hears every reply: with it uploaded while speaking, the emulator's VAD
    cut each reply at 120-220 ms and the device answered its own echo, 74 times a minute."""
    base = settings_for_pulse()
    settings = dataclasses.replace(
        base, audio=dataclasses.replace(base.audio, echo=EchoSettings(mode="reference"))
    )
    box: dict[str, object] = {}
    vad = VadListener(
        settings.audio.barge_in,
        settings.audio.echo,
        on_speech=lambda start: box["daemon"].inbox.local_speech(start),  # type: ignore[attr-defined]
    )
    scenario = Scenario.from_dict(
        {
            "turns": [
                {"user": ASKED, "reply": LONG_REPLY},
                {"user": ASKED, "reply": LONG_REPLY},
                {"user": "Where is the pharmacy?", "reply": "On the second floor."},
            ]
        }
    )
    pulse.add_echo(ECHO_GAIN_DB)
    try:
        async with (
            Emulator(scenario, on_event=validate) as emu,
            serving(emu, settings, local_vad=vad) as s,
        ):
            box["daemon"] = s.daemon
            await s.ready_to_listen()
            await s.ask(pulse)
            await s.until(lambda: answered(s), 60, "the first reply played out")
            assert s.summary.interruptions == 0, s.timeline_text()
            assert s.summary.turns == 1
            # the caller cuts in 1.5 s into the second reply: stopped, and what they say
            # reaches the server as their turn, which is answered
            await caller_cuts_into_the_next_reply(s, pulse, sounds)
            assert "interrupt  #1 by local speech detection" in s.timeline_text()
            await s.until(lambda: answered(s, 3), 30, "the caller's turn answered")
            assert s.summary.interruptions == 1, s.timeline_text()
    finally:
        pulse.remove_echo()
        vad.close()


@pytest.mark.timeout(90)
async def test_half_duplex_does_not_answer_its_own_echo(pulse: PulseServer) -> None:
    """No voice barge-in while speaking means the server does not hear the echo either."""
    base = settings_for_pulse()
    settings = dataclasses.replace(
        base, audio=dataclasses.replace(base.audio, echo=EchoSettings(mode="half_duplex"))
    )
    scenario = Scenario.from_dict({"turns": [{"user": ASKED, "reply": LONG_REPLY}]})
    pulse.add_echo(ECHO_GAIN_DB)
    try:
        async with (
            Emulator(scenario, on_event=validate) as emu,
            serving(emu, settings) as s,
        ):
            await s.ready_to_listen()
            await s.ask(pulse)
            await s.until(lambda: answered(s), 60, "the reply played out")
            assert s.summary.interruptions == 0, s.timeline_text()
            assert s.summary.turns == 1
    finally:
        pulse.remove_echo()
