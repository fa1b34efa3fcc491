"""What ``run`` needs before it opens a device or the network, checked without opening them.

``check-config`` and ``run`` both call ``preflight`` (through
``device.config.loader.startup_problems``), so "OK" means the daemon starts with the file:

- a WAV file microphone exists, is a regular file and is 16-bit PCM;
- a WAV file speaker, ``tools.audit_log`` and a summary can be written where they point
  (the file, or the nearest existing folder above it, is tried with a probe file that is
  removed at once): not under a regular file, not under /proc, not in a read-only place;
- the prompts folder (``conversation.prompts_dir``, or the packaged prompts when it is
  unset) is a folder whose WAVs are 16-bit PCM, and every prompt a tool names is there;
- ``tools.credential_dir`` is a readable folder; ``realtime.api_key_file`` is a private
  regular file (mode 0600 or stricter, owned by this user or root);
- every tool's parameters are a valid JSON schema (the meta-schema check, jsonschema).

Each problem is ``key.path: what is wrong``. Nothing here reads a secret into a message.
"""

from __future__ import annotations

import os
import stat
import tempfile
import wave
from pathlib import Path

from device.audio.settings import FileInput, FileOutput
from device.config.secrets import key_file_problem
from device.config.settings import Settings
from device.prompts import prompts_folder
from device.tools.schema import tool_schema_problems
from device.tools.settings import EndSessionTool, EscalateTool

__all__ = ["preflight", "wav_problem", "writable_problem"]

SAMPLE_BYTES = 2  # 16-bit PCM, what the audio core and the prompts use


def preflight(settings: Settings) -> list[str]:
    """Problems that would stop ``run`` at start-up, one line each, named by key path."""
    problems: list[str] = []
    inp, out = settings.audio.input, settings.audio.output
    if isinstance(inp, FileInput):
        why = wav_problem(inp.path)
        if why:
            problems.append(f"audio.input.path: {why}")
    if isinstance(out, FileOutput):
        why = writable_problem(out.path)
        if why:
            problems.append(f"audio.output.path: {why}")
    problems += _prompts(settings)
    tools = settings.tools
    if tools.audit_log is not None:
        why = writable_problem(tools.audit_log)
        if why:
            problems.append(f"tools.audit_log: {why}")
    if tools.credential_dir is not None:
        why = _folder_problem(tools.credential_dir)
        if why:
            problems.append(f"tools.credential_dir: {why}")
    if settings.realtime.api_key_file is not None:
        why = key_file_problem(settings.realtime.api_key_file)
        if why:
            problems.append(f"realtime.api_key_file: {why}")
    problems += tool_schema_problems(tools)
    return problems


def _prompts(settings: Settings) -> list[str]:
    folder = prompts_folder(settings.conversation.prompts_dir)
    why = _folder_problem(folder)
    if why:
        return [f"conversation.prompts_dir: {why}"]
    problems = []
    try:
        wavs = sorted(p for p in folder.iterdir() if p.suffix == ".wav")
    except OSError as exc:
        return [f"conversation.prompts_dir: cannot list {folder}: {exc.strerror}"]
    for path in wavs[:200]:
        why = wav_problem(path)
        if why:
            problems.append(f"conversation.prompts_dir: {why}")
    names = {p.stem for p in wavs}
    make = (
        "make it with python -m device.prompts.making"
        if settings.conversation.prompts_dir is not None
        else "these are the packaged prompts: set conversation.prompts_dir to the site's "
        "folder and put it there"
    )
    for i, item in enumerate(settings.tools.items):
        prompt = item.prompt if isinstance(item, EscalateTool | EndSessionTool) else None
        if prompt is not None and prompt not in names:
            problems.append(
                f"tools.items[{i}].prompt: no prompt {prompt}.wav in {folder} "
                f"({make}, or set prompt: null)"
            )
    chime = settings.wake.chime
    if settings.wake.enabled and chime is not None and chime not in names:
        problems.append(
            f"wake.chime: no prompt {chime}.wav in {folder} "
            "(voice-kiosk make-prompts copies chime.wav there, or set chime: null)"
        )
    return problems


def _open_regular(path: Path, flags: int) -> tuple[int | None, str | None]:
    """An open descriptor of a regular file, or None and why not. Never blocks."""
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None, f"{path}: no such file"
    except IsADirectoryError:
        return None, f"{path}: is a folder, not a file"
    except (OSError, ValueError) as exc:
        return None, f"{path}: cannot open: {getattr(exc, 'strerror', None) or exc}"
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        return None, f"{path}: is {'a folder' if stat.S_ISDIR(mode) else 'not a regular file'}"
    return fd, None


def wav_problem(path: Path) -> str | None:
    """None for a readable 16-bit PCM WAV file, else why not (one line naming the file)."""
    fd, why = _open_regular(path, os.O_RDONLY)
    if fd is None:
        return why
    with os.fdopen(fd, "rb") as handle:
        try:
            with wave.open(handle, "rb") as w:
                width, rate, channels = w.getsampwidth(), w.getframerate(), w.getnchannels()
        except (wave.Error, EOFError, OSError, ValueError) as exc:
            return f"{path}: not a readable WAV file ({' '.join(str(exc).split())[:80]})"
    if width != SAMPLE_BYTES:
        return f"{path}: must be 16-bit PCM (got {8 * width}-bit)"
    if not 8000 <= rate <= 192000:
        return f"{path}: its rate {rate} Hz is not between 8000 and 192000"
    if not 1 <= channels <= 16:
        return f"{path}: {channels} channels (1 to 16 work)"
    return None


def writable_problem(path: Path) -> str | None:
    """None if the daemon can create or append to the file ``path``, else why not.

    Appends nothing: an existing file is opened for appending and closed; for a new one,
    a probe file is made and removed in the nearest existing folder above it.
    """
    try:
        exists = path.exists() or path.is_symlink()
    except (OSError, ValueError):
        return f"{path}: not a usable path"
    if exists:
        fd, why = _open_regular(path, os.O_WRONLY | os.O_APPEND)
        if fd is None:
            return f"cannot write there: {why}"
        os.close(fd)
        return None
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"cannot write there: {folder} is a file, not a folder"
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".voice-kiosk-check-")
    except OSError as exc:
        return f"cannot write there: {folder}: {exc.strerror or exc}"
    os.close(fd)
    os.unlink(probe)
    return None


def _folder_problem(folder: Path) -> str | None:
    try:
        if not folder.exists():
            return f"no such folder {folder}"
        if not folder.is_dir():
            return f"{folder} is a file, not a folder"
    except (OSError, ValueError):
        return f"{folder}: not a usable path"
    if not os.access(folder, os.R_OK | os.X_OK):
        return f"cannot read the folder {folder}"
    return None
