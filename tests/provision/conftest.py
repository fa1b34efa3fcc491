"""Fixtures of the provisioning tests: a five-line config with its key, an image tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.provision import FIVE_LINES, KEY


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A five-line config in a folder of its own, and the key beside it (0600)."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "kiosk.yaml").write_text(FIVE_LINES)
    key = folder / "key"
    key.write_text(KEY + "\n")
    key.chmod(0o600)
    return folder / "kiosk.yaml"


@pytest.fixture
def image(tmp_path: Path) -> Path:
    root = tmp_path / "image"
    root.mkdir()
    return root
