"""The APA102 ring of the ReSpeaker 2-mic (3 LEDs) and 4-mic (12 LEDs) Pi HATs, over SPI.

The frame bytes come from `device.leds.encode.apa102_frame`; this adapter only opens
``/dev/spidevBUS.DEVICE`` with spidev (imported when opened) and writes them. The 4-mic
HAT powers its LEDs from a GPIO (``power_pin`` 5), switched on through gpiozero.

The SPI device and the pin factory are passed in: tests give a fake with spidev's
``open(bus, device)``, ``mode``, ``max_speed_hz``, ``writebytes2(data)`` and ``close()``,
and a ``MockFactory``. None: a fresh ``spidev.SpiDev()`` at each open.

Example::

    ring = Apa102Driver(bus=0, device=1, led_count=12, power_pin=5)
    ring.open(); ring.show(frame); ring.close()
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

from device.leds.driver import DriverUnavailable, first_line
from device.leds.encode import apa102_frame
from device.leds.gpio import _make
from device.leds.patterns import Frame, Pixels


class Apa102Driver:
    """See the module docstring."""

    def __init__(
        self,
        *,
        bus: int = 0,
        device: int = 1,
        led_count: int = 12,
        mode: int = 0,
        speed_hz: int = 8_000_000,
        power_pin: int | None = None,
        spi: Any = None,
        pin_factory: Any = None,
    ) -> None:
        self.bus, self.device, self.mode, self.speed_hz = bus, device, mode, speed_hz
        self.led_count = led_count
        self.power_pin = power_pin
        self.path = f"/dev/spidev{bus}.{device}"
        self.label = f"APA102 ring ({led_count} LEDs) on {self.path}"
        self._given = spi
        self._pin_factory = pin_factory
        self._spi: Any = None
        self._power: Any = None
        self._encoded: dict[int, tuple[Pixels, float, bytes]] = {}
        self._write: Callable[[bytes], Any] = lambda data: None

    def open(self) -> None:
        self.close()
        spi = self._given
        if spi is None:
            try:
                import spidev
            except ImportError as exc:
                raise DriverUnavailable(
                    f"leds: {self.label}: spidev is not installed "
                    "(pip install spidev in the venv, or apt install python3-spidev)"
                ) from exc
            spi = spidev.SpiDev()
        try:
            spi.open(self.bus, self.device)
        except FileNotFoundError as exc:
            raise DriverUnavailable(
                f"leds: {self.path} not found: enable SPI (dtparam=spi=on in "
                "/boot/firmware/config.txt, or raspi-config) and reboot"
            ) from exc
        except PermissionError as exc:
            raise DriverUnavailable(
                f"leds: permission denied on {self.path}: add the service user to the spi "
                "group (sudo usermod -aG spi USER), see docs/leds.md"
            ) from exc
        except OSError as exc:
            raise DriverUnavailable(f"leds: {self.label}: {first_line(exc)}") from exc
        try:
            spi.mode = self.mode
            spi.max_speed_hz = self.speed_hz
        except OSError as exc:
            spi.close()
            raise DriverUnavailable(f"leds: {self.label}: {first_line(exc)}") from exc
        self._spi = spi
        writebytes2 = getattr(spi, "writebytes2", None)  # spidev >= 3.4: bytes of any length
        self._write = writebytes2 or (lambda data: spi.writebytes(list(data)))
        if self.power_pin is not None:
            try:
                self._power = _make(
                    "DigitalOutputDevice",
                    f"LED power on GPIO{self.power_pin}",
                    self.power_pin,
                    initial_value=True,
                    pin_factory=self._pin_factory,
                )
            except DriverUnavailable:
                self.close()
                raise

    def show(self, frame: Frame) -> None:
        self._write(self._bytes(frame))

    def writer(self, frame: Frame) -> Callable[[], object]:
        """The frame's bytes bound to the device's write (until the next ``open``)."""
        return functools.partial(self._write, self._bytes(frame))

    def _bytes(self, frame: Frame) -> bytes:
        pixels = frame.pixels
        known = self._encoded.get(id(pixels))  # the service repeats a pattern's frames: the
        if known is not None and known[0] is pixels and known[1] == frame.brightness:
            return known[2]  # same pixels object (held here, so its id is not reused)
        if len(self._encoded) >= 256:
            self._encoded.clear()
        data = apa102_frame(pixels, frame.brightness)
        self._encoded[id(pixels)] = (pixels, frame.brightness, data)
        return data

    def close(self) -> None:
        spi, self._spi = self._spi, None
        power, self._power = self._power, None
        if spi is not None:
            with contextlib.suppress(OSError):
                spi.close()
        if power is not None:
            power.off()  # the HAT's LED power off, then the pin released
            power.close()
