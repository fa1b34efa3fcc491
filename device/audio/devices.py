"""Sound cards as PortAudio sees them: listing, and choosing one from the config.

A device is chosen by its index (``"2"``) or by part of its name (``"ReSpeaker"``,
case-insensitive); ``None`` means the system default. PortAudio lists devices only when it
starts, so ``open_portaudio()`` makes a fresh instance each time (a re-plugged USB card
shows up again). ALSA and JACK print pages of probing noise to stderr while PortAudio
starts; ``quiet_stderr()`` hides it.

Example::

    with open_portaudio() as pa:
        index, name = choose_device(pa, "ReSpeaker", output=False)
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pyaudio

log = logging.getLogger(__name__)

_stderr_lock = threading.Lock()


class DeviceNotFound(Exception):
    """No sound card matches the configured name or index (one-line message)."""


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_rate_hz: int
    is_default_input: bool
    is_default_output: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence C libraries writing to file descriptor 2 (ALSA/JACK probing messages)."""
    with _stderr_lock:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


@contextlib.contextmanager
def open_portaudio() -> Iterator[pyaudio.PyAudio]:
    """A fresh PortAudio instance (re-enumerates the devices), terminated afterwards."""
    with quiet_stderr():
        pa = pyaudio.PyAudio()
    try:
        yield pa
    finally:
        pa.terminate()


def list_devices(pa: pyaudio.PyAudio) -> list[DeviceInfo]:
    """Every device PortAudio sees, with channel counts and default rate."""
    try:
        default_in = int(pa.get_default_input_device_info()["index"])
    except OSError:
        default_in = -1
    try:
        default_out = int(pa.get_default_output_device_info()["index"])
    except OSError:
        default_out = -1
    out = []
    for i in range(pa.get_device_count()):
        info = pa.get_device_info_by_index(i)
        api = pa.get_host_api_info_by_index(int(info["hostApi"]))
        out.append(
            DeviceInfo(
                index=i,
                name=str(info["name"]),
                host_api=str(api["name"]),
                max_input_channels=int(info["maxInputChannels"]),
                max_output_channels=int(info["maxOutputChannels"]),
                default_rate_hz=int(float(info["defaultSampleRate"])),
                is_default_input=i == default_in,
                is_default_output=i == default_out,
            )
        )
    return out


def choose_device(pa: pyaudio.PyAudio, spec: str | None, *, output: bool) -> tuple[int | None, str]:
    """(PortAudio index or None for the default, display name) of the configured device.

    Raises DeviceNotFound naming what was asked and what exists.
    """
    kind = "speaker" if output else "microphone"
    devices = [
        d
        for d in list_devices(pa)
        if (d.max_output_channels if output else d.max_input_channels) > 0
    ]
    if spec is None or spec.strip() == "":
        if not devices:
            raise DeviceNotFound(f"no {kind} found (PortAudio lists no {kind} devices)")
        default = next(
            (d for d in devices if (d.is_default_output if output else d.is_default_input)),
            None,
        )
        return None, default.name if default else "default"
    wanted = spec.strip()
    names = ", ".join(f"{d.index}: {d.name}" for d in devices) or "none"
    if wanted.isdigit():
        match = next((d for d in devices if d.index == int(wanted)), None)
    else:
        hits = [d for d in devices if wanted.lower() in d.name.lower()]
        exact = [d for d in hits if d.name.lower() == wanted.lower()]
        match = (exact or hits)[0] if hits else None
    if match is None:
        raise DeviceNotFound(f"{kind} '{wanted}' not found (devices: {names})")
    return match.index, match.name


def open_stream(
    spec: str | None,
    *,
    output: bool,
    channels: int,
    rate_hz: int,
    frames_per_buffer: int,
    callback: Any,
) -> tuple[pyaudio.PyAudio, Any, str]:
    """Open a PCM16 callback stream on the configured device: (PortAudio, stream, name).

    PortAudio's own chatter on stderr is kept out of the log; on any failure PortAudio is
    released and the exception (DeviceNotFound or PortAudio's OSError) raised.
    """
    with quiet_stderr():
        pa = pyaudio.PyAudio()
    try:
        index, name = choose_device(pa, spec, output=output)
        direction: dict[str, Any] = (
            {"output": True, "output_device_index": index}
            if output
            else {"input": True, "input_device_index": index}
        )
        with quiet_stderr():
            stream = pa.open(
                format=pyaudio.paInt16,
                channels=channels,
                rate=rate_hz,
                frames_per_buffer=frames_per_buffer,
                stream_callback=callback,
                **direction,
            )
    except BaseException:
        pa.terminate()
        raise
    return pa, stream, name


def close_stream(pa: pyaudio.PyAudio | None, stream: Any, what: str) -> None:
    """Stop and close ``stream`` and release PortAudio; a dead device may refuse: go on."""
    for action in (
        (lambda: stream.stop_stream()) if stream else None,
        (lambda: stream.close()) if stream else None,
        (lambda: pa.terminate()) if pa else None,
    ):
        if action is None:
            continue
        try:
            with quiet_stderr():
                action()
        except Exception as exc:
            log.debug("closing the %s: %s", what, exc)


def describe_open_error(exc: BaseException) -> str:
    """One line on why a device could not be opened (for the health report)."""
    if isinstance(exc, DeviceNotFound):
        return str(exc)
    if isinstance(exc, OSError) and exc.args:
        return f"cannot open it ({exc.args[-1]})"
    return f"cannot open it ({type(exc).__name__}: {exc})"
