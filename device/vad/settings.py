"""Settings of barge-in and echo handling (the `audio.barge_in:` and `audio.echo:` sections)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from device.common.options import option

EchoMode = Literal["hardware", "software", "reference", "half_duplex"]


@dataclass(frozen=True, kw_only=True)
class BargeInSettings:
    """Local speech detection (Silero VAD) while the device speaks, so a caller can cut in.

    A window of 32 ms counts as speech when the model's probability reaches ``threshold``
    and its level ``min_level_dbfs``; speech starts once ``min_speech_ms`` of such windows
    came with no gap of ``min_silence_ms``. The server's own speech_started interrupts too,
    whichever comes first. Before that, the first window reaching ``hold_threshold``
    pauses the reply (for at most ``hold_ms``): confirmed, the reply is cut there;
    not, it goes on where it paused.
    """

    local_vad: bool = option(True, doc="Detect the caller's speech on the device while it speaks.")
    threshold: float = option(
        0.7, doc="Speech probability a 32 ms window needs to count as speech.", min=0.05, max=0.99
    )
    min_speech_ms: int | None = option(
        None,
        doc="Speech this long interrupts (the pause on a suspicion comes first; "
        "null: 64 with echo.mode software, else 128).",
        min=32,
        max=2000,
    )
    min_silence_ms: int = option(
        96, doc="A gap this long ends a speech candidate (its ms start again).", min=32, max=2000
    )
    min_level_dbfs: float = option(
        -50.0,
        doc="Quieter windows never count as speech (far-away talk, cancelled echo).",
        min=-100,
        max=0,
    )
    hold_threshold: float = option(
        0.4,
        doc="A window this likely speech pauses the reply at once, until confirmed.",
        min=0.05,
        max=0.99,
    )
    hold_ms: int = option(
        240,
        doc="Longest pause on a suspicion before the reply goes on (0: no pause).",
        min=0,
        max=1000,
    )

    def confirm_ms(self, echo_mode: EchoMode | None = None) -> int:
        """``min_speech_ms``, or when it is null the default for ``echo_mode``.

        Through the sound server's canceller (software) a caller's first syllables stay
        under the level bar while the device speaks, so 128 ms of them comes late or never;
        64 ms does. Elsewhere the pause on a suspicion already stopped the sound, and the
        longer confirmation costs the caller nothing but spares a noise a truncated reply.
        """
        if self.min_speech_ms is not None:
            return self.min_speech_ms
        return SOFTWARE_CONFIRM_MS if echo_mode == "software" else CONFIRM_MS


CONFIRM_MS = 128
SOFTWARE_CONFIRM_MS = 64


@dataclass(frozen=True, kw_only=True)
class EchoSettings:
    """How the device keeps from interrupting itself on its own voice (see the README).

    - ``hardware``: the microphone cancels the echo itself (e.g. channel 0 of a ReSpeaker
      USB array): the detector trusts it;
    - ``software``: the sound server's echo canceller (PulseAudio module-echo-cancel,
      PipeWire libpipewire-module-echo-cancel) and the device records from the cancelled
      source: the detector trusts it. With ``raw_input`` (the mic under the canceller, as
      a second input) the detector listens there instead and judges as in ``reference``
      (``judged_mode``): the canceller holds a caller's first syllables down while the
      device talks, the raw mic does not; what is uploaded is still the cancelled source;
    - ``reference``: in-process: while the device plays, the detector weighs the microphone
      against the delayed playback and needs speech ``margin_db`` above the echo;
    - ``half_duplex``: no voice barge-in while the device speaks (the button and the wake
      word still interrupt).
    """

    mode: EchoMode = option(
        "reference", doc="hardware, software, reference or half_duplex (see the README)."
    )
    margin_db: float = option(
        10.0, doc="reference: speech must be this many dB above the estimated echo.", min=0, max=40
    )
    max_delay_ms: int = option(
        400, doc="reference: the longest speaker-to-mic delay looked for.", min=50, max=1000
    )
    raw_input: str | None = option(
        None,
        doc="software: the mic under the canceller, as a PortAudio device name (e.g. an ALSA "
        "pcm on the canceller's source_master, see the README); barge-in then listens there, "
        "judged as in reference mode (null: on the cancelled source).",
    )

    def __post_init__(self) -> None:
        if self.raw_input is not None and self.mode != "software":
            raise ValueError(
                f"raw_input is for mode software (the mic under the sound server's canceller); "
                f"mode is {self.mode}"
            )

    @property
    def judged_mode(self) -> EchoMode:
        """How the local speech detector judges: ``software`` with a ``raw_input`` listens
        to the raw mic and weighs it against the reply, as ``reference`` does."""
        return "reference" if self.mode == "software" and self.raw_input else self.mode
