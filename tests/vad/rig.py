"""Barge-in on the PulseAudio echo rig: the device plays replies, the mic hears them.

The rig (tests/pulse.py): the device plays to ``ec_spk``, which reaches the virtual speaker
``spk``; a loopback brings it into the virtual mic at ``ECHO_GAIN_DB`` (the reply peaks at
about -12 dBFS there, a speaker a hand's width from the mic). Callers and noises are played
into the room (both mics) on top of the echo. One playback feeds a detector per mode:

- ``software``: on ``ec_mic``, PulseAudio's module-echo-cancel (WebRTC, its defaults:
  ``EC_ARGS``) over the raw mic;
- ``hardware``: on ``hw_mic``, a second mic standing for a mic array's processed channel:
  the room in full, the speaker only ``HW_CANCEL_DB`` down (its own canceller's residual);
- ``reference``: on ``vmic.monitor``, the raw mic (the canceller's gain control does not
  turn it down), fed the speaker's playback as the reference.

``echo_gain_db`` sets how loud the mic hears the speaker (``ECHO_GAIN_DB`` by default; -30:
a speaker further off; None: a mic that does not hear it at all, as a headset or a mic
array with its own canceller), for every mode but ``hardware``, whose mic stays as above.

With ``software_raw=True`` the ``software`` detector is the daemon's ``software`` mode with
``echo.raw_input``: on ``mic``, the canceller's master source (whose volume the canceller's
analog gain control sets, for every reader, as on a device), fed the playback as reference
mode is; and the canceller runs as the README's recipe for it says (``RAW_EC_ARGS``).

Capture here is a PortAudio input stream of its own (16 kHz, 20 ms frames, handed to the
event loop with ``call_soon_threadsafe`` like the daemon's), because it keeps each frame's
ADC time: with the speaker's DAC times, on the same PortAudio clock, that times a barge-in
from speech onset in the mic signal (the raw mic, ``vmic.monitor``, in every mode: in
``software`` mode the canceller's own delay counts) to the last reply sample out.

What the speaker plays is recorded the same way, one PortAudio stream on ``spk.monitor``
for the whole session: a recorder started per trial (parecord) changes the speaker sink's
latency while the canceller runs, and WebRTC's canceller then loses the echo path for good
(after the first few barge-ins it let the echo through 10-40 dB louder).

Waits are on events with deadlines, not sleeps: a reply is over when the raw mic's ADC
clock has passed the speaker's last sample plus the echo tail, and the counts are taken
once every detector's worker has judged every frame up to there (``VadListener.sync``).

Example::

    async with EchoRig(pulse, sounds) as rig:
        counts = await rig.replies(4)                   # nobody speaks: detections per mode
        trial = await rig.barge_in("software", 0, 1.2)  # the caller cuts in 1.2 s in
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyaudio

from device.audio.devices import close_stream, open_stream
from device.audio.pyaudio_io import PyAudioSpeaker
from device.audio.settings import PyAudioOutput
from device.vad.listener import VadListener
from device.vad.settings import BargeInSettings, EchoMode, EchoSettings
from device.vad.silero import SileroModel
from tests.helpers import eventually
from tests.pulse import (
    EC_SINK,
    EC_SOURCE,
    HW_SOURCE,
    MIC_SINK,
    MIC_SOURCE,
    SPEAKER_RATE_HZ,
    SPEAKER_SINK,
    PulseServer,
    read_wav_mono,
)
from tests.vad.sounds import REPLY_PEAK_DBFS, Sounds

ECHO_PEAK_DBFS = -12.0
ECHO_GAIN_DB = ECHO_PEAK_DBFS - REPLY_PEAK_DBFS
HW_CANCEL_DB = 35.0  # a mic array's echo canceller takes this much off the echo
SOURCES: dict[EchoMode, str] = {
    "software": EC_SOURCE,
    "hardware": HW_SOURCE,
    "reference": f"{MIC_SINK}.monitor",
}
MODES: tuple[EchoMode, ...] = ("software", "hardware", "reference")
RATE_HZ = 16000
FRAME = 320  # 20 ms
LOUD = 600  # |sample| above this is sound, not the silence around it (about -35 dBFS)
ECHO_TAIL_S = 0.3  # after the speaker's last sample, the echo path still rings this long
TRIAL_TAIL_S = 0.15  # after a barge-in trial, before the next (PulseAudio's latency is less)
CALLER_FOUND_BY = RATE_HZ * 2 // 5  # this much of the caller after its onset places it
# module-echo-cancel's own defaults. With WebRTC's gain control off ('aec_args="analog_gain_
# control=0 digital_gain_control=0"') a barge-in is faster (stop p50 about 200 ms, not 350:
# the gain control turns the raw mic down, a caller's first syllables with it), but the
# echo's residue then reaches the detector at full level: 1 self-interruption in 3 replies
EC_ARGS: tuple[str, ...] = ()
# the README's canceller for echo.raw_input: analog gain control off (on, it turned the
# master, so the raw mic too, down by up to 20 dB and 4 of 8 callers were not heard)
RAW_EC_ARGS: tuple[str, ...] = ('aec_args="analog_gain_control=0"',)
# software mode by default confirms after 64 ms, not 128 (BargeInSettings.confirm_ms: the
# canceller's gain control holds a caller near min_level_dbfs for a while: with 128 ms it
# came too late or, in one test run, not at all); a site's own min_speech_ms goes over it
SOFTWARE_BARGE_IN: dict[str, Any] = {}


class Capture:
    """Mono from the current PULSE_SOURCE (16 kHz, 20 ms frames unless told), with the ADC
    time of every frame."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        handler: Callable[[np.ndarray], None],
        *,
        rate_hz: int = RATE_HZ,
        frame: int = FRAME,
    ):
        self.loop = loop
        self.handler = handler
        self.rate_hz = rate_hz
        self.frame = frame
        self.frames: list[np.ndarray] = []
        self.adc_s: list[float] = []  # PortAudio clock time of each frame's first sample
        self.got_s: list[float] = []  # the same clock when the frame reached this process
        self._arrived = asyncio.Event()
        self._pa: pyaudio.PyAudio | None = None
        self._stream: Any = None

    def open(self) -> None:
        self._pa, self._stream, _ = open_stream(
            None,
            output=False,
            channels=1,
            rate_hz=self.rate_hz,
            frames_per_buffer=self.frame,
            callback=self._callback,
        )

    def _callback(self, data: bytes | None, n: int, info: Any, _status: int) -> tuple[None, int]:
        if data is None:
            return None, pyaudio.paComplete
        samples = np.frombuffer(data, dtype="<i2").copy()
        adc_s, now_s = info["input_buffer_adc_time"], info["current_time"]
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._deliver, samples, adc_s, now_s)
        return None, pyaudio.paContinue

    def _deliver(self, samples: np.ndarray, adc_s: float, now_s: float) -> None:
        self.frames.append(samples)
        self.adc_s.append(adc_s)
        self.got_s.append(now_s)
        self.handler(samples)
        self._arrived.set()

    @property
    def samples(self) -> int:
        return len(self.frames) * self.frame

    def time_of(self, sample: int) -> float:
        """ADC time of a sample index of this capture."""
        frame = min(sample // self.frame, len(self.adc_s) - 1)
        return self.adc_s[frame] + (sample - frame * self.frame) / self.rate_hz

    def audio(self, start: int, end: int) -> np.ndarray:
        first, last = start // self.frame, -(-end // self.frame)
        return np.concatenate(self.frames[first:last])[start - first * self.frame :][: end - start]

    async def until_adc(self, t_s: float, timeout_s: float = 10.0) -> None:
        """Wait (frame by frame, on the device's ADC clock) until a sample captured at ADC
        time ``t_s`` or later has arrived; TimeoutError if not within ``timeout_s``."""
        try:
            async with asyncio.timeout(timeout_s):
                while not (self.adc_s and self.adc_s[-1] + self.frame / self.rate_hz >= t_s):
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            raise TimeoutError(
                f"the capture to reach ADC time {t_s:.3f} s: not within {timeout_s:g} s"
            ) from None

    async def until_samples(self, n: int, timeout_s: float = 10.0) -> None:
        await eventually(lambda: self.samples >= n, timeout_s, f"{n} captured samples")

    def now(self) -> float:
        """The stream's clock now (the clock ADC and DAC times are on)."""
        return float(self._stream.get_time()) if self._stream is not None else 0.0

    def close(self) -> None:
        pa, stream = self._pa, self._stream
        self._pa = self._stream = None
        close_stream(pa, stream, "test capture")


@dataclass
class Detector:
    mode: EchoMode
    listener: VadListener
    capture: Capture
    fired: list[int] = field(default_factory=list)  # start samples


@dataclass
class Trial:
    """One barge-in: where the caller started, when the device noticed and went quiet."""

    mode: EchoMode
    detected: bool
    early: bool = False  # the detector stopped the reply before the caller spoke
    stop_ms: float | None = None  # speech onset in the mic -> last reply sample out
    heard_ms: float | None = None  # what the speaker clock says was heard of the reply
    recorded_cut_ms: tuple[float, float] | None = None  # where the recording says it stopped
    truncate_error_ms: float | None = None


class EchoRig:
    """See the module docstring. ``ec_args``: extra module-echo-cancel arguments (None:
    ``EC_ARGS``, with ``software_raw`` ``RAW_EC_ARGS``); ``barge_in_for``: a mode's own
    barge-in settings instead of ``barge_in`` (by default ``software`` with
    ``SOFTWARE_BARGE_IN`` over it, as the README recommends); ``echo_gain_db``: the speaker
    in the raw mic (None: not at all)."""

    def __init__(
        self,
        pulse: PulseServer,
        sounds: Sounds,
        *,
        barge_in: BargeInSettings | None = None,
        barge_in_for: dict[EchoMode, BargeInSettings] | None = None,
        echo: EchoSettings | None = None,
        workdir: Path,
        ec_args: tuple[str, ...] | None = None,
        software_raw: bool = False,
        echo_gain_db: float | None = ECHO_GAIN_DB,
    ) -> None:
        self.pulse = pulse
        self.echo_gain_db = echo_gain_db
        self.sounds = sounds
        self.barge_in_settings = barge_in or BargeInSettings()
        # a mode's own settings, as a site sets them (the README: software with 64 ms)
        self.barge_in_for = (
            barge_in_for
            if barge_in_for is not None
            else {"software": dataclasses.replace(self.barge_in_settings, **SOFTWARE_BARGE_IN)}
        )
        self.echo_settings = echo or EchoSettings()
        self.workdir = workdir
        self.software_raw = software_raw
        self.ec_args = ec_args if ec_args is not None else RAW_EC_ARGS if software_raw else EC_ARGS
        self.reply_audio = [read_wav_mono(p)[0] for p in sounds.replies]
        self.caller, _ = read_wav_mono(sounds.caller)
        self.caller_onset = int(np.flatnonzero(np.abs(self.caller) > LOUD)[0])
        self.detectors: dict[EchoMode, Detector] = {}
        self.speaker: PyAudioSpeaker | None = None
        self.recorder: Capture | None = None  # what the speaker plays (spk.monitor)
        self._armed: EchoMode | None = None
        self._flushed = asyncio.Event()
        self._items = 0

    @property
    def raw(self) -> Capture:
        """The raw mic (what every barge-in is timed from)."""
        return self.detectors["reference"].capture

    async def __aenter__(self) -> EchoRig:
        loop = asyncio.get_running_loop()
        if self.echo_gain_db is not None:
            self.pulse.add_echo(self.echo_gain_db)
        self.pulse.add_echo_cancel(*self.ec_args)
        self.pulse.add_hardware_mic(ECHO_GAIN_DB - HW_CANCEL_DB)
        model_for = {mode: SileroModel() for mode in MODES}
        captures: dict[str, Capture] = {}
        for mode in MODES:
            raw = self.software_raw and mode == "software"
            source = MIC_SOURCE if raw else SOURCES[mode]
            echo = EchoSettings(
                mode=mode,
                margin_db=self.echo_settings.margin_db,
                max_delay_ms=self.echo_settings.max_delay_ms,
                raw_input=MIC_SOURCE if raw else None,
            )
            holder: dict[str, Detector] = {}
            listener = VadListener(
                self.barge_in_for.get(mode, self.barge_in_settings),
                echo,
                self._on_speech_from(loop, mode, holder),
                model=model_for[mode],
            )
            if source not in captures:
                captures[source] = Capture(loop, lambda s: None)
            capture = captures[source]
            holder["d"] = self.detectors[mode] = Detector(mode, listener, capture)
        for source, capture in captures.items():
            users = [d.listener for d in self.detectors.values() if d.capture is capture]
            capture.handler = _fan_out([u.consumer for u in users])
            with self.pulse.use(source=source):
                await asyncio.to_thread(capture.open)
        self.recorder = Capture(loop, lambda s: None, rate_hz=SPEAKER_RATE_HZ, frame=480)
        with self.pulse.use(source=f"{SPEAKER_SINK}.monitor"):
            await asyncio.to_thread(self.recorder.open)
        with self.pulse.use(sink=EC_SINK):
            self.speaker = PyAudioSpeaker(PyAudioOutput(rate_hz=48000, buffer_ms=10))
            if not await asyncio.to_thread(self.speaker.wait_open, 15):
                raise RuntimeError(f"speaker did not start: {self.speaker.error}")
        weighing = [d.listener for d in self.detectors.values() if d.listener.echo is not None]
        self.speaker.on_played = _fan_out_played([v.reference for v in weighing])
        for capture in [*captures.values(), self.recorder]:  # every stream delivers audio
            await capture.until_samples(capture.samples + 10 * capture.frame, 15)
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.speaker is not None:
            await self.speaker.close()
        for d in self.detectors.values():
            d.listener.close()
        streams = {id(d.capture): d.capture for d in self.detectors.values()}
        for capture in [*streams.values(), *([self.recorder] if self.recorder else [])]:
            await asyncio.to_thread(capture.close)
        self.pulse.remove_echo()

    def _on_speech_from(
        self, loop: asyncio.AbstractEventLoop, mode: EchoMode, holder: dict[str, Detector]
    ) -> Callable[[int], None]:
        def on_speech(start_sample: int) -> None:  # the listener's worker thread
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._speech, mode, holder["d"], start_sample)

        return on_speech

    def _speech(self, mode: EchoMode, detector: Detector, start_sample: int) -> None:
        detector.fired.append(start_sample)
        if mode == self._armed and self.speaker is not None and not self._flushed.is_set():
            self.speaker.flush()  # what the daemon's interrupt does first
            self._flushed.set()

    def _start_reply(self, index: int) -> str:
        assert self.speaker is not None
        self._items += 1
        item = f"item_{self._items}"
        reply = self.reply_audio[index % len(self.reply_audio)]
        for i in range(0, len(reply), 2400):  # 100 ms deltas, faster than real time
            self.speaker.write(item, reply[i : i + 2400].tobytes())
        for mode, d in self.detectors.items():  # the armed detector may pause the reply
            d.listener.start(playback=self.speaker if mode == self._armed else None)
        return item

    async def _reply_over(
        self, *players: subprocess.Popen[bytes], tail_s: float = ECHO_TAIL_S
    ) -> None:
        """The speaker and ``players`` went quiet and their sound died away in the mics;
        every detector has judged every frame up to there (detections are in ``fired``)."""
        assert self.speaker is not None
        await asyncio.wait_for(self.speaker.wait_idle(), 30)
        quiet_s = self.speaker.sound_end_s
        for player in players:
            await asyncio.to_thread(player.wait, 10)
            quiet_s = max(quiet_s, self.raw.now())
        await self.raw.until_adc(quiet_s + tail_s)
        for d in self.detectors.values():
            d.listener.stop()
        listeners = [d.listener for d in self.detectors.values()]
        synced = await asyncio.gather(*(asyncio.to_thread(v.sync) for v in listeners))
        if not all(synced):
            raise RuntimeError("a speech detector's worker fell more than 5 s behind")
        await asyncio.sleep(0)  # the detections they reported run on the loop first

    async def replies(
        self,
        count: int,
        noises: list[tuple[str, float]] | None = None,
        *,
        armed: EchoMode | None = None,
        cut_after_noise_s: float | None = None,
    ) -> dict[EchoMode, int]:
        """Play ``count`` replies with nobody speaking: replies with a detection, per mode.

        ``noises``: (name, seconds into the reply) played into the mic, one per reply in turn.
        ``armed``: that mode's detector pauses and flushes the real speaker as the daemon
        would (what the other modes hear then changes too); None: detector level only.
        ``cut_after_noise_s``: end the reply this long after its noise ended (shorter runs;
        the echo alone is what the replies without noises are for).
        """
        assert self.speaker is not None
        hits: dict[EchoMode, int] = dict.fromkeys(MODES, 0)
        for k in range(count):
            self._armed = armed
            self._flushed.clear()
            before = {m: len(d.fired) for m, d in self.detectors.items()}
            item = self._start_reply(k)
            player = None
            if noises:
                name, at_s = noises[k % len(noises)]
                await self._until_heard(item, at_s * 1000)
                player = self.pulse.play_into_room(self.sounds.noises[name])
                if cut_after_noise_s is not None:
                    await asyncio.to_thread(player.wait, 10)
                    await self.raw.until_adc(self.raw.now() + cut_after_noise_s)
                    self.speaker.flush()
            await self._reply_over(*([player] if player is not None else []))
            for m, d in self.detectors.items():
                hits[m] += len(d.fired) > before[m]
        self._armed = None
        return hits

    async def _until_heard(self, item: str, ms: float, timeout_s: float = 15) -> None:
        assert self.speaker is not None
        async with asyncio.timeout(timeout_s):
            while self.speaker.heard_ms(item) < ms and not self._flushed.is_set():
                await asyncio.sleep(0.005)

    async def barge_in(self, mode: EchoMode, index: int, at_s: float) -> Trial:
        """The caller speaks ``at_s`` into reply ``index``; the ``mode`` detector interrupts."""
        assert self.speaker is not None and self.recorder is not None
        played_from = self.recorder.samples
        self._flushed.clear()
        self._armed = mode
        item = self._start_reply(index)
        await self._until_heard(item, at_s * 1000)
        if self._flushed.is_set():  # it interrupted itself: no caller yet
            await self._reply_over()
            self._armed = None
            return Trial(mode, False, early=True)
        mark = self.raw.samples
        player = self.pulse.play_into_room(self.sounds.caller)
        try:
            async with asyncio.timeout(len(self.caller) / RATE_HZ + 1.5):
                await self._flushed.wait()
        except TimeoutError:
            pass
        detected = self._flushed.is_set()
        heard = self.speaker.heard_ms(item)
        end_s = self.speaker.sound_end_s
        if detected:  # enough of the caller to find its onset by; the rest need not play
            await self.raw.until_samples(mark + self.caller_onset + CALLER_FOUND_BY + RATE_HZ // 20)
            player.terminate()
        # the reply was cut short and nobody counts what follows: what the room still holds
        # (the caller's last ms in the sound server) need only die away before the next
        await self._reply_over(player, tail_s=TRIAL_TAIL_S)
        self._armed = None
        trial = Trial(mode, detected)
        if not detected:
            return trial
        onset = self._caller_onset(mark)
        trial.stop_ms = (end_s - self.raw.time_of(onset)) * 1000.0
        trial.heard_ms = heard
        played = self.recorder.audio(played_from, self.recorder.samples)
        reply = self.reply_audio[index % len(self.reply_audio)]
        lo, hi = recorded_cut_ms(played, self.recorder.rate_hz, reply)
        trial.recorded_cut_ms = (lo, hi)
        trial.truncate_error_ms = (
            0.0 if lo <= heard <= hi else min(abs(heard - lo), abs(heard - hi))
        )
        return trial

    async def canceller_delay_ms(self, click: Path) -> tuple[float, float]:
        """A click played into the room while the device is quiet: how much later it
        reaches this process through the canceller (``ec_mic``) than from the raw mic,
        (by the sources' ADC times, by arrival). The first is what PulseAudio accounts
        for; the second is what a barge-in waits for."""
        ec = self.detectors["software"].capture
        marks = self.raw.samples, ec.samples
        player = self.pulse.play_into_room(click)
        await asyncio.to_thread(player.wait, 10)
        await self.raw.until_adc(self.raw.now() + ECHO_TAIL_S)
        await ec.until_adc(self.raw.now())
        found = []
        for capture, mark in zip((self.raw, ec), marks, strict=True):
            heard = capture.audio(mark, capture.samples)
            loud = np.flatnonzero(np.abs(heard) > LOUD)
            if not len(loud):
                raise RuntimeError("the click did not reach a microphone")
            index = mark + int(loud[0])
            frame = index // capture.frame
            found.append((capture.time_of(index), capture.got_s[frame]))
        (raw_adc, raw_got), (ec_adc, ec_got) = found
        return (ec_adc - raw_adc) * 1000.0, (ec_got - raw_got) * 1000.0

    def _caller_onset(self, mark: int) -> int:
        """Sample index in the raw mic where the caller's first sound arrived."""
        heard = self.raw.audio(mark, self.raw.samples).astype(np.float64)
        start = self.caller_onset
        template = self.caller[: start + CALLER_FOUND_BY].astype(np.float64)
        return mark + best_lag(heard, template) + start


def _fan_out(consumers: list[Callable[[np.ndarray], None]]) -> Callable[[np.ndarray], None]:
    def handler(samples: np.ndarray) -> None:
        for consumer in consumers:
            consumer(samples)

    return handler


def _fan_out_played(
    references: list[Callable[[np.ndarray, int, float], None]],
) -> Callable[[np.ndarray, int, float], None]:
    """The speaker's ``on_played`` for every listener that weighs the mic against it."""

    def played(samples: np.ndarray, rate_hz: int, play_at_s: float) -> None:
        for reference in references:
            reference(samples, rate_hz, play_at_s)

    return played


def best_lag(signal: np.ndarray, template: np.ndarray) -> int:
    """Where ``template`` sits in ``signal`` (the cross-correlation peak)."""
    n = 1 << (len(signal) + len(template)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(signal, n) * np.conj(np.fft.rfft(template, n)), n)
    return int(np.argmax(corr[: max(1, len(signal) - len(template) // 4)]))


def recorded_cut_ms(played: np.ndarray, rate_hz: int, reply: np.ndarray) -> tuple[float, float]:
    """Where the reply stopped in a recording of the speaker, as ms into the reply.

    The recording is aligned on the reply's start. A pause that let the reply go on (a
    hold that was not confirmed) shows as a run of digital silence the reply does not have
    there: each such run's excess over the reply's own silence at that point is taken out.
    The cut lies between the last loud sample that played and the next loud sample of the
    reply that did not (a cut in a pause between words cannot be placed closer than that
    pause).
    """
    offset = best_lag(played.astype(np.float64), reply.astype(np.float64))
    heard = played[offset:]
    loud = np.flatnonzero(np.abs(heard) > LOUD)
    end = int(loud[-1]) if len(loud) else 0
    min_run, slack = rate_hz * 30 // 1000, rate_hz // 200  # 30 ms; runs' edges wander 5 ms
    reply_runs = _quiet_runs(np.abs(reply) <= _SILENT, min_run // 2)
    inserted = 0
    for start, length in _quiet_runs(np.abs(heard[:end]) <= _SILENT, min_run):
        at = start - inserted  # where the reply would be, had nothing been inserted before
        # the reply's own silence there: a run of it starting at the same place (a pause
        # within or next to a gap between words lengthens that gap)
        own = sum(n for a, n in reply_runs if abs(a - at) <= slack)
        if length - own > rate_hz // 100:
            inserted += length - own
    last = max(0, end - inserted)
    later = np.flatnonzero(np.abs(reply[last + 1 :]) > LOUD)
    following = last + 1 + int(later[0]) if len(later) else len(reply)
    return last * 1000.0 / rate_hz, following * 1000.0 / rate_hz


_SILENT = 4  # |sample| at most this: the digital silence of a pause (the reply's too)


def _quiet_runs(quiet: np.ndarray, min_length: int) -> list[tuple[int, int]]:
    """(start, length) of the runs of True at least ``min_length`` long."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    return [
        (int(a), int(b - a))
        for a, b in zip(edges[::2], edges[1::2], strict=True)
        if b - a >= min_length
    ]
