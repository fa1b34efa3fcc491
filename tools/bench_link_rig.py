"""The link benchmarks' rig: the daemon in-process against the emulator, one loop clock.

`rig()` runs a real `Daemon` (websockets link on loopback, WAV speaker at speed 0, the real
prompts) against an in-process `Emulator`, with a `CallerMic` as the microphone and a
`Seen` sink. Every timestamp is ``loop.time()``: the sink stamps reports as they are
emitted, `BenchEmulator` stamps the faults it applies, and `Probe` (the emulator's
``on_event`` hook) stamps the first ``input_audio_buffer.append`` after it is armed and
runs a callback on the n-th reply audio delta (to inject a fault mid-reply).

The microphone is a live one (``audio.input`` is a sound card in the settings, so it is read
all the time, not turn by turn); the speaker plays at speed 0, so a prompt handed to it is
its first sample out.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from device.audio.frames import AudioFrame, pcm_bytes
from device.audio.settings import FileOutput, PyAudioInput
from device.audio.wav import WavSpeaker, read_wav
from device.config.loader import load_settings
from device.config.settings import Settings
from device.conversation import State
from device.conversation.reports import Report, StateChanged
from device.daemon.daemon import Daemon
from device.prompts.library import PromptLibrary
from device.realtime.link import RealtimeLink
from device.services.triggers import Trigger, TriggerAction
from tools.realtime_emulator import Emulator, Scenario
from tools.realtime_emulator.faults import Fault

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "firmware_config/examples/demo.yaml"
QUESTION = ROOT / "tools/demo_audio/question.wav"
ASKED = "What are your opening hours?"
KEY = "bench-key-not-a-secret"
START = Trigger(TriggerAction.START, "bench button")
END = Trigger(TriggerAction.END, "bench long press")
FRAME_MS = 20


def summary(values: list[float], target_p95: float | None = None) -> dict[str, Any]:
    """Median and p95 (linear interpolation) of ``values`` in ms, and the repeat count."""
    if not values:
        return {"repeats": 0}
    out: dict[str, Any] = {
        "median": round(float(np.median(values)), 1),
        "p95": round(float(np.percentile(values, 95)), 1),
        "max": round(max(values), 1),
        "repeats": len(values),
    }
    if target_p95 is not None:
        out["target_p95"] = target_p95
        out["met"] = out["p95"] <= target_p95
    return out


def speech_of(path: Path) -> tuple[bytes, int]:
    """A mono WAV's voiced part (first to last 10 ms block above -40 dBFS) and its rate."""
    pcm, rate, channels = read_wav(path)
    if channels != 1:
        raise ValueError(f"{path}: expected a mono WAV")
    samples = np.frombuffer(pcm, "<i2").astype(np.float64)
    block = rate // 100
    n = len(samples) // block
    rms = np.sqrt(np.mean(samples[: n * block].reshape(n, block) ** 2, axis=1)) / 32768.0
    voiced = np.flatnonzero(rms > 10 ** (-40 / 20))
    return pcm[voiced[0] * block * 2 : (voiced[-1] + 1) * block * 2], rate


class CallerMic:
    """An AudioInput on the loop clock: 20 ms frames at ``speed`` times real time.

    ``continuous``: the speech loops without a break (someone talking while they wake the
    kiosk). Otherwise silence, and ``say()`` plays the utterance once (with ``pause_ms`` of
    silence after it, so the server hears the turn end).
    """

    def __init__(self, speech: bytes, rate_hz: int, *, speed: float, continuous: bool) -> None:
        self.speech, self.rate_hz, self.speed, self.continuous = speech, rate_hz, speed, continuous
        self._step = pcm_bytes(FRAME_MS, rate_hz, 1)
        self._queue = bytearray()
        self._closed = False
        self.frames_out = 0
        self.overflows = 0

    def say(self) -> None:
        self._queue += self.speech

    async def frames(self) -> AsyncIterator[AudioFrame]:
        loop = asyncio.get_running_loop()
        period_s = FRAME_MS / 1000.0 / self.speed
        due = loop.time()
        pos = 0
        silence = bytes(self._step)
        while not self._closed:
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.1:
                due = loop.time()  # held up: go on at the pace from now, no burst
            due += period_s
            if self.continuous:
                chunk = self.speech[pos : pos + self._step]
                pos = (pos + self._step) % (len(self.speech) - self._step)
            elif self._queue:
                chunk = bytes(self._queue[: self._step])
                del self._queue[: self._step]
            else:
                chunk = silence
            chunk = chunk.ljust(self._step, b"\0")
            yield AudioFrame(chunk, self.rate_hz, 1, self.frames_out * FRAME_MS)
            self.frames_out += 1

    async def close(self) -> None:
        self._closed = True


class Seen:
    """A sink keeping (loop time, report); ``until`` waits for a matching report."""

    def __init__(self) -> None:
        self.reports: list[tuple[float, Report]] = []
        self._new = asyncio.Event()

    def report(self, t_ms: float, report: Report) -> None:
        self.reports.append((asyncio.get_running_loop().time(), report))
        self._new.set()

    def mark(self) -> int:
        return len(self.reports)

    def find(self, match: Callable[[Report], bool], since: int = 0) -> float | None:
        return next((t for t, r in self.reports[since:] if match(r)), None)

    async def until(
        self, match: Callable[[Report], bool], since: int = 0, timeout_s: float = 15.0
    ) -> float:
        """The loop time of the first report after index ``since`` that ``match``es."""
        async with asyncio.timeout(timeout_s):
            while (found := self.find(match, since)) is None:
                self._new.clear()
                await self._new.wait()
        return found

    def forget(self) -> None:
        self.reports.clear()


def entered(state: State) -> Callable[[Report], bool]:
    return lambda r: isinstance(r, StateChanged) and r.new is state


class Probe:
    """The emulator's event hook: the first append after ``arm``; a callback on a delta."""

    def __init__(self) -> None:
        self.first_append: float | None = None
        self.deltas = 0
        self.on_delta: Callable[[int], None] | None = None
        self.appends = 0

    def arm(self, on_delta: Callable[[int], None] | None = None) -> None:
        self.first_append, self.deltas, self.on_delta = None, 0, on_delta

    def __call__(self, direction: str, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if direction == "client" and kind == "input_audio_buffer.append":
            self.appends += 1
            if self.first_append is None:
                self.first_append = asyncio.get_running_loop().time()
        elif direction == "server" and kind == "response.output_audio.delta":
            self.deltas += 1
            if self.on_delta is not None:
                self.on_delta(self.deltas)


class BenchEmulator(Emulator):
    """The emulator, stamping each fault it applies on the loop clock (``fired_at``)."""

    def __init__(self, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(scenario, **kwargs)
        self.fired_at: list[float] = []
        self._bg: set[asyncio.Task[Any]] = set()

    def note_fired(self, session: int, fault: Fault) -> None:
        self.fired_at.append(asyncio.get_running_loop().time())
        super().note_fired(session, fault)

    def inject_soon(self, fault: dict[str, Any], **switches: Any) -> None:
        """From a synchronous hook: set ``switches`` now, inject ``fault`` on the next step."""
        if switches:
            self.configure(**switches)
        task = asyncio.get_running_loop().create_task(self.inject(fault))
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    def forget(self) -> None:
        """Drop what the emulator keeps of past events (a long soak must not grow on it)."""
        self.received.clear()
        self.sent.clear()
        self.fired.clear()
        self.fired_at.clear()


def bench_settings(tmp: Path, url: str, *, gate: bool = True, **realtime: Any) -> Settings:
    base = load_settings(CONFIG)
    return dataclasses.replace(
        base,
        audio=dataclasses.replace(
            base.audio,
            input=PyAudioInput(),  # a live microphone: read all the time
            output=FileOutput(path=tmp / "reply.wav", speed=0),
            gate=dataclasses.replace(base.audio.gate, enabled=gate),
        ),
        # no disclosure: the link's figures without the 1.8 s prompt before each reply
        # (what the disclosure costs is bench_disclosure's)
        conversation=dataclasses.replace(base.conversation, start="on_signal", disclosure=None),
        realtime=dataclasses.replace(base.realtime, url=url, **realtime),
    )


@dataclass
class Rig:
    emu: BenchEmulator
    daemon: Daemon
    seen: Seen
    probe: Probe
    mic: CallerMic
    task: asyncio.Task[Any]

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def ready(self) -> bool:
        """Ready for the next visitor: idle, and (with standby) a standby held."""
        d = self.daemon
        if d.engine.state is not State.IDLE:
            return False
        return not d.settings.realtime.standby or d.keeper.standby is not None

    async def wait(self, cond: Callable[[], bool], timeout_s: float = 15.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not cond():
                if self.task.done():
                    raise RuntimeError("the daemon stopped")
                await asyncio.sleep(0.005)

    async def settle(self, timeout_s: float = 15.0) -> None:
        """Ready, and the previous sessions closed (only the standby open)."""
        want = 1 if self.daemon.settings.realtime.standby else 0
        await self.wait(lambda: self.ready() and self.emu.open_connections <= want, timeout_s)


def scenario(reply: str, *, stream_speed: float = 10.0) -> Scenario:
    return Scenario.from_dict(
        {"stream_speed": stream_speed, "turns": [{"user": ASKED, "reply": reply}]}
    )


@contextlib.asynccontextmanager
async def rig(
    scen: Scenario, *, continuous: bool, speed: float = 1.0, gate: bool = True, **realtime: Any
) -> AsyncIterator[Rig]:
    """The daemon serving against the emulator until the block ends (see the module doc)."""
    speech, rate = speech_of(QUESTION)
    probe = Probe()
    with tempfile.TemporaryDirectory(prefix="bench-link-") as tmp:
        emu = BenchEmulator(scen, on_event=probe)
        async with emu:
            url = emu.url  # a restarted emulator takes the same port
            settings = bench_settings(Path(tmp), emu.url, gate=gate, **realtime)

            async def connect() -> RealtimeLink:
                rt = settings.realtime
                return await RealtimeLink.connect(
                    url, rt.model, KEY, timeout_s=rt.connect_timeout_s
                )

            assert isinstance(settings.audio.output, FileOutput)
            mic = CallerMic(speech, rate, speed=speed, continuous=continuous)
            seen = Seen()
            daemon = Daemon(
                settings,
                mic=mic,
                speaker=WavSpeaker(settings.audio.output),
                connect=connect,
                prompts=PromptLibrary.load(settings.conversation.prompts_dir),
                sinks=[seen],
            )
            task = asyncio.create_task(daemon.run())
            r = Rig(emu, daemon, seen, probe, mic, task)
            try:
                await r.wait(daemon.started.is_set)
                yield r
            finally:
                daemon.stop()
                await asyncio.wait_for(task, 20)
