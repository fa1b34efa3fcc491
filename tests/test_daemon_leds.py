"""LEDs beside a real conversation: a driver that raises on every write, or one whose write
hangs, leaves the conversation against the emulator untouched (the same replies, tools
and turns, first reply audio as quick) and the daemon still closes in time."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from device.audio.settings import FileInput, FileOutput
from device.audio.wav import WavMic, WavSpeaker
from device.daemon.daemon import Daemon
from device.daemon.drain import RunOptions
from device.leds.patterns import Frame
from device.leds.service import LedService
from device.leds.settings import LedSettings
from device.services.summary import RunSummary
from tests.helpers import QUESTION, connect_to, one_turn, settings_for, validate
from tools.realtime_emulator import Emulator

pytestmark = pytest.mark.slow


class Raises:
    label = "a ring that fails every write"
    led_count = 12

    def __init__(self) -> None:
        self.writes = 0

    def open(self) -> None: ...

    def show(self, frame: Frame) -> None:
        self.writes += 1
        raise OSError("[Errno 5] Input/output error")

    def writer(self, frame: Frame) -> Callable[[], object]:
        return functools.partial(self.show, frame)

    def close(self) -> None: ...


class Hangs(Raises):
    label = "a ring whose write never returns"

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def show(self, frame: Frame) -> None:
        self.writes += 1
        self.release.wait(30)


async def converse(tmp_path: Path, leds: LedService | None) -> RunSummary:
    """One question and its answer against the emulator, with ``leds`` as a service."""
    settings = settings_for(tmp_path, QUESTION)
    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)
    async with Emulator(one_turn(), on_event=validate) as emu:
        daemon = Daemon(
            settings,
            mic=WavMic(settings.audio.input),
            speaker=WavSpeaker(settings.audio.output),
            connect=connect_to(emu.url, settings),
            options=RunOptions(exit_when_input_ends=True, drain_timeout_s=20),
            services=[leds] if leds is not None else [],
        )
        return await daemon.run()


@pytest.mark.parametrize("driver_kind", [Raises, Hangs])
async def test_a_broken_led_ring_leaves_the_conversation_untouched(
    tmp_path: Path, driver_kind: type[Raises]
) -> None:
    plain = await converse(tmp_path / "plain", None)
    driver = driver_kind()
    leds = LedService(LedSettings(driver="terminal", fps=30, write_timeout_ms=50), driver)
    start = time.monotonic()
    with_leds = await converse(tmp_path / "leds", leds)
    took_s = time.monotonic() - start
    if isinstance(driver, Hangs):
        driver.release.set()
    assert driver.writes >= 1  # the ring was really written to (and failed)
    assert with_leds.user_transcripts == plain.user_transcripts
    assert with_leds.assistant_transcripts == plain.assistant_transcripts
    assert with_leds.turns == plain.turns and with_leds.errors == plain.errors
    assert with_leds.first_audio_latency_ms[0] < plain.first_audio_latency_ms[0] + 100
    assert took_s < 20
