"""The whole configuration: one frozen tree, loaded once at start-up by device.config.loader."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from device.audio.settings import AudioSettings
from device.buttons.settings import ButtonSettings, MuteSwitchSettings
from device.common.options import option
from device.leds.settings import LedSettings
from device.metrics.settings import MetricsSettings
from device.realtime.settings import RealtimeSettings
from device.recording.settings import RecordingSettings
from device.tools.guardrails import shared_phrases
from device.tools.settings import DEFAULT_NO_WORDS, DEFAULT_YES_WORDS, ToolsSettings
from device.wake.settings import WakeSettings

DEFAULT_DISCLOSURE = "Hello, I'm an automated assistant."
"""The words of the packaged disclosure.wav (device/prompts/default/prompts.yaml)."""


@dataclass(frozen=True, kw_only=True)
class DeviceInfo:
    """Who this device is (the `device:` section)."""

    name: str = option(
        "voice-kiosk", doc="This device's name (logs, hand-over messages).", blank=False
    )
    site: str = option("", doc="Where it stands, e.g. 'Main St clinic, reception'.")


@dataclass(frozen=True, kw_only=True)
class ConversationSettings:
    """When conversations start and end (the `conversation:` section)."""

    start: Literal["at_startup", "on_signal"] = option(
        "on_signal",
        doc="at_startup: start talking at once; on_signal: wait for SIGUSR1 (the talk button).",
    )
    idle_timeout_s: float = option(
        20.0, doc="End the conversation after this long with nobody speaking.", min=1, max=3600
    )
    max_duration_s: float = option(
        600.0,
        doc="End any conversation after this long (a Realtime session lasts at most 60 min).",
        min=10,
        max=3600,
    )
    prompts_dir: Path | None = option(
        None,
        doc="A site's folder of canned local prompts (WAV + text), relative to this file; "
        "null: the prompts installed with voice-kiosk.",
    )
    offline_message: str = option(
        "I can't reach my service right now. Please ask at the reception desk.",
        doc="What the offline prompt says: where to get help (voice-kiosk make-prompts).",
        blank=False,
    )
    back_online_prompt: bool = option(
        False, doc="Say the back_online prompt when the link returns after being down."
    )
    max_cost: float | None = option(
        None,
        doc="Stop a conversation once its estimated cost reaches this many US dollars "
        "(metrics.prices; null: no limit).",
        min=0.001,
        max=1000,
    )
    daily_budget: float | None = option(
        None,
        doc="Stop once the day's conversations together reach this many US dollars, and serve "
        "nobody more that day (the day in metrics.time_zone; null: no budget).",
        min=0.01,
        max=100_000,
    )
    limit_action: Literal["handover", "end"] = option(
        "handover",
        doc="At a cost limit, after the limit prompt: handover runs the site's escalate tool "
        "(if it has one), end just ends the conversation.",
    )
    disclosure: str | None = option(
        DEFAULT_DISCLOSURE,
        doc="Said at the start of every conversation, while the session is made ready: "
        "that the caller talks to an AI (the disclosure prompt, made from this text by "
        "voice-kiosk make-prompts; the model is told to say truthfully it is an AI when "
        "asked; null or empty: off, where the law lets a site do without; "
        "docs/disclosure.md).",
    )
    consent_question: str | None = option(
        None,
        doc="Asked after the disclosure: may this conversation be recorded? The caller's first "
        "words answer it (needs recording.consent: required; the consent prompt; null: not "
        "asked).",
    )
    consent_yes_words: tuple[str, ...] = option(
        DEFAULT_YES_WORDS, doc="Words and phrases that count as a yes to the consent question."
    )
    consent_no_words: tuple[str, ...] = option(
        DEFAULT_NO_WORDS,
        doc="Words and phrases that count as a no to it (a no beats a yes; neither: not recorded).",
    )

    @property
    def asks_consent(self) -> bool:
        """The consent question is set (not null, not blank)."""
        return bool(self.consent_question and self.consent_question.strip())

    def __post_init__(self) -> None:
        if self.asks_consent and not any(w.strip() for w in self.consent_yes_words):
            raise ValueError("consent_yes_words: must hold at least one word")
        both = shared_phrases(self.consent_yes_words, self.consent_no_words)
        if self.asks_consent and both:
            raise ValueError(
                f"consent_yes_words: {both[0]!r} is in consent_no_words too (a no always "
                "wins, so it could never be a yes)"
            )


@dataclass(frozen=True, kw_only=True)
class LoggingSettings:
    """What is logged (the `logging:` section)."""

    level: Literal["debug", "info", "warning", "error"] = option(
        "info", doc="Least severe messages logged (debug is verbose)."
    )
    timeline: bool = option(True, doc="Print a readable timeline of the conversation.")


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The whole configuration; `firmware_config/default.yaml` documents every key."""

    device: DeviceInfo = option(DeviceInfo(), doc="Who this device is.")
    realtime: RealtimeSettings = option(RealtimeSettings(), doc="The Realtime session.")
    audio: AudioSettings = option(AudioSettings(), doc="Capture, playback and noise gate.")
    conversation: ConversationSettings = option(
        ConversationSettings(), doc="When conversations start and end."
    )
    tools: ToolsSettings = option(ToolsSettings(), doc="Tools the model may call.")
    wake: WakeSettings = option(WakeSettings(), doc="Wake on a spoken phrase (openWakeWord).")
    button: ButtonSettings = option(ButtonSettings(), doc="Push-to-talk button (gpiozero).")
    mute: MuteSwitchSettings = option(
        MuteSwitchSettings(), doc="Mute switch (gpiozero); SIGUSR2 toggles mute without one."
    )
    leds: LedSettings = option(LedSettings(), doc="Status LEDs (docs/leds.md).")
    metrics: MetricsSettings = option(
        MetricsSettings(), doc="Metrics for Prometheus and the estimated cost (docs/metrics.md)."
    )
    recording: RecordingSettings = option(
        RecordingSettings(),
        doc="Transcripts and audio of each conversation, opt-in (docs/recording.md).",
    )
    logging: LoggingSettings = option(LoggingSettings(), doc="Logs.")

    def __post_init__(self) -> None:
        c = self.conversation
        if (c.max_cost or c.daily_budget) and not self.metrics.priced(self.realtime.model):
            raise ValueError(
                f"conversation.max_cost and daily_budget need metrics.prices for the model "
                f"{self.realtime.model!r} (got prices for {', '.join(self.metrics.prices)})"
            )
        rec = self.recording
        if c.asks_consent and not (rec.audio and rec.consent == "required"):
            raise ValueError(
                "conversation.consent_question: is asked only with recording.audio: true and "
                f"recording.consent: required (got audio: {str(rec.audio).lower()}, consent: "
                f"{rec.consent}): else the caller's answer would change nothing"
            )
        if c.asks_consent and not self.realtime.transcription.enabled:
            raise ValueError(
                "conversation.consent_question: needs realtime.transcription.enabled: true "
                "(the caller's answer is read from their words)"
            )
