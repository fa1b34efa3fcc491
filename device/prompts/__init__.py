"""Canned local prompts: the library the daemon plays from, and the making of a site's folder.

``PACKAGED_PROMPTS`` is the folder installed with the package (``device/prompts/default``:
the WAVs and their texts, ``prompts.yaml``); the daemon plays from it unless
``conversation.prompts_dir`` names a site's own folder, which then replaces it whole.

Example::

    folder = prompts_folder(settings.conversation.prompts_dir)   # never None
"""

from __future__ import annotations

from pathlib import Path

PACKAGED_PROMPTS = Path(__file__).resolve().parent / "default"


def prompts_folder(configured: Path | None) -> Path:
    """The folder the prompts come from: ``configured``, or the packaged one when unset."""
    return PACKAGED_PROMPTS if configured is None else configured


__all__ = ["PACKAGED_PROMPTS", "prompts_folder"]
