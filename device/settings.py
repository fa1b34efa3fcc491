"""The whole configuration: one frozen tree, loaded once at start-up by device.config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from device.audio.settings import AudioSettings
from device.options import option
from device.realtime.settings import RealtimeSettings
from device.tools.settings import ToolsSettings


@dataclass(frozen=True, kw_only=True)
class DeviceInfo:
    name: str = option("voice-kiosk", doc="This device's name (logs, hand-over messages).")
    site: str = option("", doc="Where it stands, e.g. 'Main St clinic, reception'.")


@dataclass(frozen=True, kw_only=True)
class ConversationSettings:
    start: Literal["at_startup", "on_signal"] = option(
        "on_signal",
        doc="at_startup: talk at once; on_signal: SIGUSR1 simulates the talk button.",
    )
    idle_timeout_s: float = option(
        20.0, doc="End the conversation after this long with nobody speaking.", min=1
    )
    max_duration_s: float = option(600.0, doc="End any conversation after this long.", min=10)
    prompts_dir: Path = option(
        Path("prompts"), doc="Canned prompts (WAV + text), relative to this file."
    )


@dataclass(frozen=True, kw_only=True)
class LoggingSettings:
    level: Literal["debug", "info", "warning", "error"] = option("info", doc="Log level.")
    timeline: bool = option(True, doc="Print a readable timeline of the conversation.")


@dataclass(frozen=True, kw_only=True)
class Settings:
    device: DeviceInfo = option(DeviceInfo(), doc="Who this device is.")
    realtime: RealtimeSettings = option(RealtimeSettings(), doc="The Realtime session.")
    audio: AudioSettings = option(AudioSettings(), doc="Capture, playback and noise gate.")
    conversation: ConversationSettings = option(
        ConversationSettings(), doc="When conversations start and end."
    )
    tools: ToolsSettings = option(ToolsSettings(), doc="Tools the model may call.")
    logging: LoggingSettings = option(LoggingSettings(), doc="Logs.")
