"""Settings of audio capture and playback (the `audio:` section)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from device.common.options import option
from device.vad.settings import BargeInSettings, EchoSettings


@dataclass(frozen=True, kw_only=True)
class FileInput:
    """A WAV file stands in for the microphone (demo, tests)."""

    type: Literal["file"] = option("file", doc="Read the caller's speech from a WAV file.")
    path: Path = option(doc="WAV file (PCM16, any rate, mono or multi-channel).")
    speed: float = option(
        1.0,
        doc="Pacing: 1.0 real time, 2.0 twice as fast, 0 as fast as possible.",
        min=0.1,
        max=100,
        also=(0,),
    )
    tail_silence_ms: int = option(
        3000, doc="Silence fed after the file ends, so the turn can end.", min=0, max=60000
    )
    caller: Literal["turns", "timeline"] = option(
        "turns",
        doc="turns: heard only while the device listens; timeline: on the wall clock, so it "
        "can interrupt.",
    )
    echo_db: float | None = option(
        None,
        doc="Mix what the file speaker plays into this mic at this level in dB (null: no echo).",
        min=-60,
        max=0,
    )


@dataclass(frozen=True, kw_only=True)
class PyAudioInput:
    """A sound card through PyAudio / PortAudio."""

    type: Literal["pyaudio"] = option("pyaudio", doc="Capture from a sound card.")
    device: str | None = option(
        None, doc="Device name substring or index as text (null: the system default)."
    )
    channels: int = option(1, doc="Channels to open (mic arrays expose several).", min=1, max=16)
    channel: int = option(0, doc="Channel to use (0 is often the processed one).", min=0, max=15)
    rate_hz: int = option(16000, doc="Native capture rate.", min=8000, max=192000)
    frame_ms: int = option(20, doc="Capture buffer length.", min=10, max=100)
    queue_frames: int = option(
        100, doc="Frames buffered before overflow is counted.", min=4, max=1000
    )
    retry_s: float = option(3.0, doc="Retry a missing device this often.", min=0.5, max=3600)

    def __post_init__(self) -> None:
        if self.channel >= self.channels:
            raise ValueError(
                f"channel {self.channel} does not exist: channels is {self.channels} "
                f"(channels are counted from 0)"
            )


@dataclass(frozen=True, kw_only=True)
class FileOutput:
    """A WAV file stands in for the speaker (demo, tests)."""

    type: Literal["file"] = option("file", doc="Write the replies to a WAV file.")
    path: Path = option(doc="WAV file to write (24 kHz mono PCM16).")
    speed: float = option(
        1.0,
        doc="Playback clock: 1.0 real time, 0 everything counts as played at once.",
        min=0.1,
        max=100,
        also=(0,),
    )


@dataclass(frozen=True, kw_only=True)
class PyAudioOutput:
    """A sound card through PyAudio / PortAudio."""

    type: Literal["pyaudio"] = option("pyaudio", doc="Play on a sound card.")
    device: str | None = option(
        None, doc="Device name substring or index as text (null: the system default)."
    )
    rate_hz: int = option(48000, doc="Device playback rate.", min=8000, max=192000)
    channels: int = option(
        1, doc="Channels to open (the reply is played on all of them).", min=1, max=8
    )
    prebuffer_ms: int = option(40, doc="Audio buffered before playback starts.", min=0, max=500)
    buffer_ms: int = option(10, doc="Device buffer period (flush latency).", min=5, max=100)


@dataclass(frozen=True, kw_only=True)
class GateSettings:
    """The noise gate: only audio while someone speaks is uploaded (the `audio.gate:` section).

    The gate follows the ambient level (a low percentile of the level over the last
    ``floor_window_s``), opens when the level stays ``open_db`` above it for ``attack_ms``
    and closes after ``hangover_ms`` below ``close_db``. On opening it sends the
    ``preroll_ms`` just before, so the first syllable is not cut.
    """

    enabled: bool = option(True, doc="Upload only gated audio (false: upload everything).")
    open_db: float = option(10.0, doc="Open this many dB above the noise floor.", min=0, max=60)
    close_db: float = option(
        5.0, doc="Stay open while this many dB above the floor (hysteresis).", min=0, max=60
    )
    min_open_dbfs: float = option(
        -55.0, doc="Never open below this absolute level (quiet rooms).", min=-100, max=0
    )
    attack_ms: int = option(
        60,
        doc="Level above the open threshold this long opens (clangs are shorter).",
        min=0,
        max=2000,
    )
    hangover_ms: int = option(
        800,
        doc="Stay open this long after the level drops (longer than server silence_duration_ms).",
        min=0,
        max=10000,
    )
    preroll_ms: int = option(
        300, doc="Audio from just before opening that is sent too.", min=0, max=2000
    )
    floor_window_s: float = option(
        4.0, doc="How much recent audio the noise floor is estimated from.", min=0.5, max=60
    )
    floor_percentile: float = option(
        15.0, doc="Noise floor: this percentile of the recent level.", min=1, max=50
    )

    def __post_init__(self) -> None:
        if self.close_db > self.open_db:
            raise ValueError(
                f"close_db {self.close_db} is above open_db {self.open_db}: "
                "the gate would close while still over its open threshold"
            )


@dataclass(frozen=True, kw_only=True)
class AudioSettings:
    input: FileInput | PyAudioInput = option(
        PyAudioInput(), doc="Where the caller's speech comes from."
    )
    output: FileOutput | PyAudioOutput = option(PyAudioOutput(), doc="Where replies are played.")
    upload_chunk_ms: int = option(40, doc="Audio per upload message.", min=20, max=40)
    gate: GateSettings = option(GateSettings(), doc="Noise gate: what is uploaded.")
    barge_in: BargeInSettings = option(
        BargeInSettings(), doc="Local speech detection while the device speaks (barge-in)."
    )
    echo: EchoSettings = option(
        EchoSettings(), doc="How the device keeps from interrupting itself on its own voice."
    )

    def raw_mic(self) -> PyAudioInput | None:
        """``echo.raw_input`` as a capture input (None if unset): the microphone's rate and
        frames, opened mono (the sound server mixes the mic down)."""
        if self.echo.raw_input is None or not isinstance(self.input, PyAudioInput):
            return None
        return dataclasses.replace(self.input, device=self.echo.raw_input, channels=1, channel=0)

    def advice(self) -> list[str]:
        """Set-ups that work but that the README advises against, one line each (``check-
        config`` prints them under its OK, ``run`` logs them as warnings)."""
        notes = []
        if (
            self.echo.mode == "software"
            and self.echo.raw_input is None
            and self.barge_in.local_vad
            and isinstance(self.input, PyAudioInput)
        ):
            notes.append(
                "audio.echo: mode software without raw_input: barge-in listens through the "
                "canceller, which holds a caller's first syllables down (stop p95 350-700 ms "
                "in the bench, target 150); set echo.raw_input to the mic under the canceller "
                "(README: Barge-in on the raw mic)"
            )
        return notes

    def __post_init__(self) -> None:
        if self.echo.raw_input is not None and not isinstance(self.input, PyAudioInput):
            raise ValueError(
                "echo.raw_input needs a sound card input (input.type pyaudio): it is the "
                "mic under the sound server's canceller"
            )
