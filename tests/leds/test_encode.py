"""The encoders, byte for byte: APA102 SPI frames, USB ring requests, the terminal line."""

from __future__ import annotations

import pytest

from device.leds.encode import (
    apa102_end_frame,
    apa102_frame,
    level5,
    terminal_line,
    usb_ring_brightness,
    usb_ring_frame,
)
from device.leds.patterns import Frame


def test_level5() -> None:
    assert [level5(b) for b in (0.0, 0.01, 0.5, 1.0, 1.5, -1.0)] == [0, 1, 16, 31, 31, 0]


def test_apa102_two_mic_hat_frame() -> None:
    pixels = ((255, 0, 0), (0, 255, 0), (1, 2, 3))
    assert apa102_frame(pixels, 1.0) == bytes(
        [
            *(0, 0, 0, 0),  # start frame
            *(0xFF, 0, 0, 255),  # 0xE0 | 31, then B, G, R
            *(0xFF, 0, 255, 0),
            *(0xFF, 3, 2, 1),
            *(0, 0, 0, 0),  # end frame: at least 32 bits of zeros
        ]
    )


def test_apa102_brightness_is_the_five_bit_field() -> None:
    frame = apa102_frame(((10, 20, 30),), 0.5)
    assert frame[4:8] == bytes([0xE0 | 16, 30, 20, 10])
    assert apa102_frame(((10, 20, 30),), 0.0)[4] == 0xE0


def test_apa102_four_mic_hat_frame_length() -> None:
    frame = apa102_frame(((0, 0, 255),) * 12, 1.0)
    assert len(frame) == 4 + 12 * 4 + 4
    assert frame[4:8] == bytes([0xFF, 255, 0, 0])


@pytest.mark.parametrize(("n", "end_bytes"), [(1, 4), (12, 4), (64, 4), (65, 5), (256, 16)])
def test_apa102_end_frame_gives_at_least_n_over_2_clock_bits(n: int, end_bytes: int) -> None:
    end = apa102_end_frame(n)
    assert end == b"\x00" * end_bytes
    assert len(end) * 8 >= n / 2


def test_usb_ring_custom_frame() -> None:
    pixels = tuple((i, 2 * i, 3 * i) for i in range(12))
    command, data = usb_ring_frame(pixels)
    assert command == 6
    assert data == bytes(b for i in range(12) for b in (i, 2 * i, 3 * i, 0))
    assert len(data) == 48


def test_usb_ring_one_colour_is_the_mono_command() -> None:
    assert usb_ring_frame(((255, 0, 0),) * 12) == (1, bytes([255, 0, 0, 0]))
    assert usb_ring_frame(((0, 0, 0),) * 12) == (1, bytes([0, 0, 0, 0]))


def test_usb_ring_frames_of_other_sizes_are_fitted_to_12() -> None:
    command, data = usb_ring_frame(((9, 9, 9), (1, 1, 1)))
    assert command == 6 and data[:8] == bytes([9, 9, 9, 0, 1, 1, 1, 0])
    assert data[8:] == bytes(40)


def test_usb_ring_brightness() -> None:
    assert usb_ring_brightness(1.0) == (0x20, bytes([31]))
    assert usb_ring_brightness(0.1) == (0x20, bytes([3]))


def test_terminal_line_plain_and_coloured() -> None:
    frame = Frame("thinking", ((0, 200, 255), (0, 20, 25), (0, 0, 0)), 0.5, 1234.0)
    assert terminal_line(frame, colour=False) == "   1.23s  leds   thinking     ●○○"
    coloured = terminal_line(frame, colour=True)
    assert "\x1b[38;2;0;200;255m●\x1b[0m" in coloured
    assert "\x1b[38;2;0;20;25m○\x1b[0m" in coloured
    assert coloured.endswith("○")  # an LED that is off: no colour code
