"""The APA102 driver on a fake SPI device: frames per state, byte for byte; the power pin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from device.conversation.reports import Ready, StateChanged
from device.conversation.state import State
from device.leds.arbiter import LedState
from device.leds.driver import DriverUnavailable
from device.leds.patterns import Frame, build_patterns
from device.leds.settings import LedColours
from device.leds.spi import Apa102Driver
from tests.leds.fakes import FakeSpi

PATTERNS = build_patterns(LedColours(), wake_flash_ms=400)
START, END = b"\x00" * 4, b"\x00" * 4


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.reset()
    Device.pin_factory = None


def frame_for(state: State, t_ms: float, n: int, brightness: float = 1.0) -> Frame:
    leds = LedState(wake_flash_ms=0, handover_show_ms=0)
    leds.report(0.0, Ready(after_ms=0.0, standby=True, offline=False))
    leds.report(0.0, StateChanged(State.IDLE, state))
    name = leds.showing(0.0).name
    return Frame(name, PATTERNS[name].pixels(t_ms, n), brightness, t_ms)


def led(b: int, g: int, r: int, level: int = 31) -> bytes:
    return bytes([0xE0 | level, b, g, r])


@pytest.mark.parametrize(
    ("state", "t_ms", "expected"),
    [
        (State.IDLE, 0.0, START + led(0, 0, 0) * 3 + END),
        (State.LISTENING, 0.0, START + led(255, 80, 0) * 3 + END),  # blue, steady
        (State.ERROR, 0.0, START + led(0, 0, 255) * 3 + END),  # red blink: on
        (State.ERROR, 600.0, START + led(0, 0, 0) * 3 + END),  # and off
        # thinking: a cyan spin, the head on LED 0, its tail behind it on LED 2
        (State.THINKING, 0.0, START + led(255, 200, 0) + led(26, 20, 0) + led(42, 33, 0) + END),
    ],
)  # fmt: skip
def test_two_mic_hat_frames_per_state(state: State, t_ms: float, expected: bytes) -> None:
    spi = FakeSpi()
    ring = Apa102Driver(bus=0, device=1, led_count=3, spi=spi)
    ring.open()
    ring.show(frame_for(state, t_ms, 3))
    ring.close()
    assert spi.opened == [(0, 1)]
    assert spi.writes == [expected]


def test_a_writer_writes_the_frames_bytes_on_each_call() -> None:
    """What the LED thread calls for a repeating pattern's frames: encoded once, each call
    the same bytes as ``show``; made again after a reopen (a new device's write)."""
    spi = FakeSpi()
    ring = Apa102Driver(led_count=3, spi=spi)
    ring.open()
    frame = frame_for(State.THINKING, 0.0, 3)
    write = ring.writer(frame)
    write()
    write()
    ring.show(frame)
    expected = START + led(255, 200, 0) + led(26, 20, 0) + led(42, 33, 0) + END
    assert spi.writes == [expected] * 3
    ring.close()
    again = FakeSpi()
    ring = Apa102Driver(led_count=3, spi=again)
    ring.open()
    ring.writer(frame)()
    assert again.writes == [expected]


def test_settings_reach_the_spi_device() -> None:
    spi = FakeSpi()
    ring = Apa102Driver(bus=1, device=0, led_count=12, mode=3, speed_hz=4_000_000, spi=spi)
    ring.open()
    assert (spi.opened, spi.mode, spi.max_speed_hz) == ([(1, 0)], 3, 4_000_000)
    ring.show(frame_for(State.SPEAKING, 0.0, 12, brightness=0.5))
    ring.close()
    ring.close()  # idempotent
    (data,) = spi.writes
    assert len(data) == 4 + 12 * 4 + 4
    assert data[4] == 0xE0 | 16  # brightness 0.5 in the 5-bit field
    assert data[5:8] == bytes([76, 24, 0])  # blue (0, 80, 255) at the pulse's low 0.3: B, G, R
    assert spi.closed == 1


def test_four_mic_hat_powers_its_leds_from_gpio5(factory: MockFactory) -> None:
    spi = FakeSpi()
    ring = Apa102Driver(led_count=12, power_pin=5, spi=spi, pin_factory=factory)
    ring.open()
    assert factory.pin(5).state is True
    ring.close()
    assert [s.state for s in factory.pin(5).states] == [False, True, False]


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (FileNotFoundError(2, "No such file"), "/dev/spidev0.1 not found: enable SPI"),
        (PermissionError(13, "Permission denied"), "add the service user to the spi group"),
        (OSError(16, "Device or resource busy"), "Device or resource busy"),
    ],
)
def test_open_problems_are_one_line_naming_the_device(error: OSError, words: str) -> None:
    ring = Apa102Driver(spi=FakeSpi(fail_open=error))
    with pytest.raises(DriverUnavailable) as info:
        ring.open()
    message = str(info.value)
    assert message.startswith("leds: ") and words in message and "\n" not in message
