"""Where wake-word models live and how a configured model becomes a file (no I/O but stat).

``tools/setup.sh`` (through ``tools/fetch_models.py``) unpacks openWakeWord's pre-trained
models into ``default_models_dir()``: ``<venv>/share/voice-kiosk/models``, outside git and
per installation. Every wake-word model needs the two shared feature models found there
(``melspectrogram.onnx``, ``embedding_model.onnx``); a model by ``name`` is
``<name>.onnx`` or ``<name>_v<version>.onnx`` in that folder (the newest version wins).

The pre-trained wake-word models are CC BY-NC-SA 4.0 (non-commercial): a commercial site
supplies its own .onnx file (``path:``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from device.wake.settings import WakeModelSettings, WakeSettings

MELSPEC_FILE = "melspectrogram.onnx"
EMBEDDING_FILE = "embedding_model.onnx"


class ModelNotFound(Exception):
    """A configured model file is missing; the message is one line naming it."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model as the detector runs it."""

    label: str
    path: Path
    threshold: float = 0.5
    trigger_frames: int = 1
    refractory_s: float = 2.0


@dataclass(frozen=True, slots=True)
class ResolvedModels:
    melspec: Path
    embedding: Path
    models: tuple[ModelSpec, ...]


def default_models_dir() -> Path:
    """``<prefix>/share/voice-kiosk/models`` of the running Python (the project's .venv)."""
    return Path(sys.prefix) / "share" / "voice-kiosk" / "models"


def find_named(name: str, models_dir: Path) -> Path | None:
    exact = models_dir / f"{name}.onnx"
    if exact.is_file():
        return exact
    versions = sorted(models_dir.glob(f"{name}_v*.onnx"))
    return versions[-1] if versions else None


def resolve_model(model: WakeModelSettings, models_dir: Path) -> ModelSpec:
    if model.path is not None:
        path = model.path
        if not path.is_file():
            raise ModelNotFound(f"wake model file {path} does not exist")
    else:
        assert model.name is not None
        found = find_named(model.name, models_dir)
        if found is None:
            have = sorted(
                p.stem.split("_v")[0]
                for p in models_dir.glob("*.onnx")
                if p.name not in (MELSPEC_FILE, EMBEDDING_FILE, "silero_vad.onnx")
            )
            known = f" (there: {', '.join(have)})" if have else " (run tools/setup.sh)"
            raise ModelNotFound(f"wake model {model.name!r} not found in {models_dir}{known}")
        path = found
    return ModelSpec(model.label, path, model.threshold, model.trigger_frames, model.refractory_s)


def resolve(settings: WakeSettings) -> ResolvedModels:
    """The files of the configured models; ``ModelNotFound`` names the first one missing."""
    models_dir = settings.models_dir or default_models_dir()
    shared = []
    for name in (MELSPEC_FILE, EMBEDDING_FILE):
        path = models_dir / name
        if not path.is_file():
            raise ModelNotFound(
                f"openWakeWord feature model {path} is missing (run tools/setup.sh)"
            )
        shared.append(path)
    specs = tuple(resolve_model(m, models_dir) for m in settings.models)
    return ResolvedModels(shared[0], shared[1], specs)
