"""Frames to bytes (pure): the APA102 SPI stream, the USB ring's control requests, and the
terminal driver's line. The drivers only move these bytes; tests compare them byte for byte.

APA102 (ReSpeaker 2-mic HAT: 3 LEDs, 4-mic HAT: 12): a start frame of four 0x00 bytes, then
per LED ``0xE0 | brightness`` (5 bits, 0-31), blue, green, red; then an end frame of zero
bytes giving at least n/2 more clock edges (at least 32 bits, as SK9822 clones want).

ReSpeaker USB Mic Array v2.0 ring (12 LEDs): vendor control transfers
``ctrl_transfer(0x40, 0, command, 0x1C, data)``; command 6 takes 12 x (R, G, B, 0) bytes
(a custom frame), 1 takes one (R, G, B, 0) colour for the whole ring, 0x20 takes the
brightness (one byte, 0-31).
"""

from __future__ import annotations

from device.leds.patterns import Frame, Pixels

APA102_START = b"\x00\x00\x00\x00"

USB_RING_LEDS = 12
USB_REQUEST_TYPE = 0x40  # host to device, vendor, device recipient
USB_REQUEST = 0
USB_INDEX = 0x1C
USB_MONO = 1
USB_CUSTOM = 6
USB_BRIGHTNESS = 0x20


def level5(brightness: float) -> int:
    """Brightness 0..1 as the 5-bit level (0-31) of APA102 and the USB ring; a brightness
    above 0 is never rounded down to dark."""
    level = round(min(max(brightness, 0.0), 1.0) * 31)
    return 1 if level == 0 and brightness > 0 else level


def apa102_end_frame(n: int) -> bytes:
    """Zero bytes for at least n/2 clock edges, and at least 32 bits."""
    return b"\x00" * max(4, (n + 15) // 16)


def apa102_frame(pixels: Pixels, brightness: float) -> bytes:
    """The whole SPI transfer for ``pixels`` (r, g, b) at ``brightness`` 0..1."""
    head = 0xE0 | level5(brightness)
    body = bytearray(APA102_START)
    for r, g, b in pixels:
        body += bytes((head, b, g, r))
    body += apa102_end_frame(len(pixels))
    return bytes(body)


def _fit(pixels: Pixels, n: int) -> Pixels:
    return (pixels + ((0, 0, 0),) * n)[:n]


def usb_ring_frame(pixels: Pixels) -> tuple[int, bytes]:
    """(command, data) showing ``pixels`` on the 12-LED ring: one colour with command 1
    when every LED has the same, else a custom frame with command 6."""
    fitted = _fit(pixels, USB_RING_LEDS)
    first = fitted[0]
    if all(p == first for p in fitted):
        return USB_MONO, bytes((*first, 0))
    return USB_CUSTOM, b"".join(bytes((r, g, b, 0)) for r, g, b in fitted)


def usb_ring_brightness(brightness: float) -> tuple[int, bytes]:
    """(command, data) setting the ring's brightness."""
    return USB_BRIGHTNESS, bytes((level5(brightness),))


LIT = "●"
DARK = "○"


def terminal_line(frame: Frame, *, colour: bool) -> str:
    """``  12.34s  leds   thinking  ●●○○...``: one mark per LED, an LED counted as lit at a
    quarter of full (in ``colour``, each mark in its LED's colour, for a TTY)."""
    marks = []
    for r, g, b in frame.pixels:
        lit = max(r, g, b) >= 64
        if colour and lit:
            marks.append(f"\x1b[38;2;{r};{g};{b}m{LIT}\x1b[0m")
        elif colour and max(r, g, b) > 0:
            marks.append(f"\x1b[38;2;{r};{g};{b}m{DARK}\x1b[0m")
        else:
            marks.append(LIT if lit else DARK)
    return f"{frame.t_ms / 1000.0:7.2f}s  leds   {frame.name:<12} {''.join(marks)}"
