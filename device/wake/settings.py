"""Settings of the wake word (the `wake:` section of the config)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from device.common.options import option


@dataclass(frozen=True, kw_only=True)
class WakeModelSettings:
    """One wake-word model: a pre-trained one by ``name`` or a site's own ``path``."""

    name: str | None = option(
        None, doc="Pre-trained model in the models folder, e.g. hey_jarvis (or give path)."
    )
    path: Path | None = option(
        None, doc="A custom openWakeWord .onnx model file (instead of name)."
    )
    threshold: float = option(
        0.76,
        doc="Score that counts as the phrase (0.5: more wakes, more false ones).",
        min=0.01,
        max=0.99,
    )
    trigger_frames: int = option(
        1, doc="Consecutive 80 ms frames over the threshold needed to wake.", min=1, max=25
    )
    refractory_s: float = option(
        2.0, doc="After a wake, this model stays quiet this long.", min=0, max=60
    )

    def __post_init__(self) -> None:
        if (self.name is None) == (self.path is None):
            raise ValueError("give exactly one of name (a pre-trained model) or path (.onnx)")
        if self.path is not None and self.path.suffix != ".onnx":
            raise ValueError(f"path must be an .onnx model file (got {str(self.path)!r})")
        if self.name is not None and (not self.name or "/" in self.name):
            raise ValueError(f"name is a model name such as hey_jarvis (got {self.name!r})")

    @property
    def label(self) -> str:
        """How detections and logs name this model: its name, or the file's stem."""
        if self.name is not None:
            return self.name
        assert self.path is not None
        return self.path.stem


@dataclass(frozen=True, kw_only=True)
class WakeSettings:
    """Wake on a spoken phrase with openWakeWord (the `wake:` section).

    While the room is quiet (the 16 kHz level stays within ``idle_open_db`` of the noise
    floor, or below ``idle_min_dbfs``) the models are not run at all; they resume on the
    first louder 80 ms frame with their feature window intact.
    """

    enabled: bool = option(False, doc="Listen for the wake phrase.")
    models: tuple[WakeModelSettings, ...] = option(
        [WakeModelSettings(name="hey_jarvis")], doc="Wake-word models (any of them wakes)."
    )
    models_dir: Path | None = option(
        None,
        doc="Folder of the pre-trained models (null: the one tools/setup.sh fills).",
    )
    idle_skip: bool = option(True, doc="Skip the models while the room stays quiet.")
    idle_open_db: float = option(
        6.0, doc="Run the models when a frame is this many dB above the floor.", min=0, max=40
    )
    idle_min_dbfs: float = option(
        -70.0, doc="Frames quieter than this never run the models.", min=-120, max=0
    )
    queue_frames: int = option(
        50, doc="Frames waiting for the wake worker before the oldest is dropped.", min=4, max=500
    )
    chime: str | None = option(
        None,
        doc="A prompt (NAME.wav in conversation.prompts_dir) played on a wake (null: none).",
    )

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("models: give at least one model")
        labels = [m.label for m in self.models]
        twice = sorted({x for x in labels if labels.count(x) > 1})
        if twice:
            raise ValueError(f"models: {', '.join(twice)} given twice")
