"""Wake-word fixtures: the real models (fetched by tools/setup.sh) and the espeak-ng corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from device.wake.models import ResolvedModels, default_models_dir, resolve
from device.wake.settings import WakeSettings
from tools.make_wake_audio import build


@pytest.fixture(scope="session")
def models_dir() -> Path:
    folder = default_models_dir()
    assert (folder / "hey_jarvis_v0.1.onnx").is_file(), (
        f"no wake-word models in {folder}: run tools/setup.sh"
    )
    return folder


@pytest.fixture(scope="session")
def resolved(models_dir: Path) -> ResolvedModels:
    return resolve(WakeSettings(enabled=True, models_dir=models_dir))


@pytest.fixture(scope="session")
def corpus() -> tuple[Path, dict[str, Any]]:
    """The test corpus (generated once, then read from .cache/wake-audio)."""
    return build("test")
