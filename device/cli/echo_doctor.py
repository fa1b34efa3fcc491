"""`voice-kiosk doctor --echo`: how loud and how late the mic hears the speaker, and the mode.

Plays a 1 s noise burst (device/audio/echo_check.py: ``burst``) on the configured
speaker while it records the configured microphone (its channel) and, with
``audio.echo.raw_input``, the raw mic under the canceller too; each recording starts
``NOISE_MS`` before the burst (the room's own level) and goes on ``max_delay_ms`` and
more after it. Both clocks are the device's own, as the reference echo mode sees them:
the speaker's PortAudio DAC time of the burst's first sample (``on_played``), and each
mic frame's arrival on the event loop (the earliest arrival less the audio before it).
``measure_echo`` then gives the coupling (dB) and the delay (ms) per mic, and
``recommend`` the echo mode with one line of why.

Example::

    voice-kiosk doctor --echo                      # the default devices
    voice-kiosk doctor --config kiosk.yaml --echo --json
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from device.audio.echo_check import (
    BURST_MS,
    NOISE_MS,
    EchoMeasurement,
    burst,
    measure_echo,
    recommend,
)
from device.audio.frames import SPEECH_RATE_HZ
from device.audio.settings import AudioSettings, PyAudioInput, PyAudioOutput

RATE_HZ = 16000  # both sides are compared at the detector's rate
SETTLE_MS = 200  # a device's first ms (start-up) are not the room
TAIL_MS = 300  # after the burst's echo could have ended, at the longest delay


@dataclass
class _Recording:
    """One microphone's channel, with the arrival clock of its first sample."""

    settings: PyAudioInput
    chunks: list[np.ndarray] = field(default_factory=list)
    samples: int = 0
    origin_s: float | None = None  # monotonic time of sample 0 (the earliest arrival)
    device: str | None = None
    problems: list[str] = field(default_factory=list)

    def add(self, pcm: bytes, now_s: float) -> None:
        s = self.settings
        mono = np.frombuffer(pcm, dtype="<i2")
        if s.channels > 1:
            mono = mono[: len(mono) - len(mono) % s.channels].reshape(-1, s.channels)
            mono = np.ascontiguousarray(mono[:, s.channel])
        self.chunks.append(mono)
        self.samples += len(mono)
        origin = now_s - self.samples / s.rate_hz
        if self.origin_s is None or origin < self.origin_s:
            self.origin_s = origin

    @property
    def seconds(self) -> float:
        return self.samples / self.settings.rate_hz

    def at_16k(self) -> np.ndarray:
        import soxr

        audio = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        if self.settings.rate_hz == RATE_HZ:
            return audio
        return np.asarray(soxr.resample(audio, self.settings.rate_hz, RATE_HZ))


async def _record(rec: _Recording, stop: asyncio.Event) -> None:
    from device.audio.pyaudio_io import PyAudioMic

    mic = PyAudioMic(
        rec.settings,
        on_health=lambda ok, m: rec.problems.append(m.split(": retrying")[0]) if not ok else None,
    )

    async def run() -> None:
        async with contextlib.aclosing(mic.frames()) as frames:
            async for frame in frames:
                rec.device = mic.device_name
                rec.add(frame.pcm, time.monotonic())

    task = asyncio.create_task(run())
    try:
        await asyncio.wait({task, asyncio.create_task(stop.wait())}, return_when="FIRST_COMPLETED")
    finally:
        await mic.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _until(condition: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def echo_check(settings: AudioSettings, report: dict[str, Any]) -> bool:
    """Play the burst, record, measure, recommend: ``report["echo"]``; False when a device
    failed (nothing played, or a mic gave no audio)."""
    from device.audio.pyaudio_io import PyAudioSpeaker

    inp = settings.input if isinstance(settings.input, PyAudioInput) else PyAudioInput()
    outp = settings.output if isinstance(settings.output, PyAudioOutput) else PyAudioOutput()
    echo = settings.echo
    recordings = {"mic": _Recording(inp)}
    raw = settings.raw_mic()
    if raw is not None:
        recordings["raw_input"] = _Recording(raw)
    result: dict[str, Any] = {"configured_mode": echo.mode, "burst_ms": BURST_MS}
    report["echo"] = result
    stop = asyncio.Event()
    recorders = [asyncio.create_task(_record(r, stop)) for r in recordings.values()]
    played: list[tuple[np.ndarray, int, float]] = []
    speaker = PyAudioSpeaker(outp)
    try:
        ready = (NOISE_MS + SETTLE_MS) / 1000
        mics = list(recordings.values())
        await _until(
            lambda: all(r.seconds >= ready for r in mics) or any(r.problems for r in mics), 10
        )
        opened = await asyncio.to_thread(speaker.wait_open, 10.0)
        result["speaker"] = speaker.device_name
        if not opened or any(r.problems or r.seconds < ready for r in mics):
            if not opened:
                result["error"] = speaker.error or "the speaker did not open"
            for key, rec in recordings.items():
                if rec.problems or rec.seconds < ready:
                    result[key] = {
                        "device": rec.device or rec.settings.device,
                        "problems": rec.problems or ["no audio"],
                    }
            return False
        speaker.on_played = lambda s, rate, at_s: played.append((s.copy(), rate, at_s))
        speaker.write("echo-check", burst(SPEECH_RATE_HZ).tobytes())
        await asyncio.wait_for(speaker.wait_idle(), 10)
        wait_s = (echo.max_delay_ms + TAIL_MS) / 1000
        marks = {k: r.seconds for k, r in recordings.items()}
        await _until(lambda: all(r.seconds >= marks[k] + wait_s for k, r in recordings.items()), 10)
    finally:
        speaker.on_played = None
        await speaker.close()
        stop.set()
        await asyncio.gather(*recorders, return_exceptions=True)
    if not played:
        result["error"] = "the speaker played nothing"
        return False
    import soxr

    rate = played[0][1]
    burst_16k = np.asarray(soxr.resample(np.concatenate([p[0] for p in played]), rate, RATE_HZ))
    start_s = played[0][2]
    measured: dict[str, EchoMeasurement] = {}
    ok = True
    for key, rec in recordings.items():
        entry: dict[str, Any] = {"device": rec.device or rec.settings.device}
        if rec.settings.channels > 1:
            entry["channel"] = rec.settings.channel
        result[key] = entry
        if rec.problems or rec.origin_s is None:
            entry["problems"] = rec.problems or ["no audio"]
            ok = False
            continue
        audio = rec.at_16k()
        at = round((start_s - rec.origin_s) * RATE_HZ)
        if at < RATE_HZ * NOISE_MS // 1000 or at + len(burst_16k) > len(audio):
            entry["problems"] = ["the recording does not span the burst (a clock went wrong)"]
            ok = False
            continue
        m = measure_echo(
            burst_16k, audio, RATE_HZ, played_at=at, max_delay_ms=echo.max_delay_ms + TAIL_MS
        )
        measured[key] = m
        entry.update(m.as_dict())
        entry["summary"] = m.describe()
    if "mic" in measured:
        advice = recommend(
            echo.mode,
            measured["mic"],
            raw=measured.get("raw_input"),
            max_delay_ms=echo.max_delay_ms,
        )
        result["recommended_mode"] = advice.mode
        result["why"] = advice.why
        result["notes"] = advice.notes
    return ok and "mic" in measured


def print_summary(report: dict[str, Any], out: TextIO) -> None:
    """The check's lines for a person (``report["echo"]`` as ``echo_check`` left it)."""
    r = report.get("echo", {})
    out.write(f"echo check: a {BURST_MS} ms noise burst on speaker {r.get('speaker') or '?'}\n")
    for key, what in (("mic", "microphone"), ("raw_input", "barge-in mic (raw_input)")):
        if key not in r:
            continue
        entry = r[key]
        name = entry.get("device") or "default"
        if "channel" in entry:
            name += f" channel {entry['channel']}"
        if "summary" in entry:
            out.write(f"  {what} {name}: {entry['summary']} (room {entry['room_dbfs']} dBFS)\n")
        for problem in entry.get("problems", []):
            out.write(f"  {what} {name}: problem: {problem}\n")
    if "error" in r:
        out.write(f"  problem: {r['error']}\n")
    if "recommended_mode" in r:
        out.write(
            f"recommended: audio.echo.mode: {r['recommended_mode']} ({r['why']});"
            f" configured: {r['configured_mode']}\n"
        )
        for note in r.get("notes", []):
            out.write(f"  note: {note}\n")
