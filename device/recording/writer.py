"""The recorder's writer: a thread that carries out the record's operations, so the loop
never waits for an SD card.

`Writer.put(op)` copies an operation into a bounded queue and returns at once; when the
queue is full (``max_queued_bytes`` of audio waiting, or ``max_ops`` operations) the
operation is dropped and counted (`dropped`), and the conversation's last line says so.
The thread writes inside one folder, ``root`` (made 0700; a link there is refused): each
conversation in a folder of its own (0700), every file opened relative to its folder's
descriptor with ``O_NOFOLLOW`` and mode 0600, and names checked (`SAFE_NAME`): nothing is
ever written outside ``root``. `Sweep(now_s, ...)` applies the retention rule
(retention.py) between two operations, sparing the conversation being written.

A write that fails (a full card, a removed folder) is logged once and the conversation's
remaining operations are skipped; the daemon is never stopped by it.

Example::

    writer = Writer(Path("/var/lib/voice-kiosk/recordings"))
    writer.start()
    writer.put(Begin("20250601T101502.125Z-conv-1"))
    ...
    writer.close(timeout_s=2.0)
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from device.recording.ops import (
    SAFE_NAME,
    SAMPLE_RATE_HZ,
    TRANSCRIPT,
    AppendAudio,
    Begin,
    CloseAudio,
    DeleteAudio,
    Finish,
    Line,
    Op,
    OpenAudio,
)
from device.recording.retention import sweep_fd

log = logging.getLogger(__name__)

MAX_QUEUED_BYTES = 8 * 1024 * 1024  # of audio: about 3 minutes at 24 kHz
MAX_OPS = 20000
FILE_FLAGS = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class Sweep:
    """Apply the retention rule now (``now_s``: the wall clock, s since the epoch)."""

    now_s: float
    max_age_s: float
    max_bytes: int


_STOP = object()


class Writer:
    """See the module docstring."""

    def __init__(
        self,
        root: Path,
        *,
        max_queued_bytes: int = MAX_QUEUED_BYTES,
        max_ops: int = MAX_OPS,
    ) -> None:
        self.root = root
        self.max_queued_bytes = max_queued_bytes
        self.max_ops = max_ops
        self.dropped = 0  # operations dropped because the queue was full
        self.failures = 0  # operations that failed (logged once per conversation)
        self.written = 0  # operations carried out
        self._queue: collections.deque[Any] = collections.deque()
        self._queued_bytes = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        # the thread's own state
        self._root_fd: int | None = None
        self._folder: str | None = None
        self._folder_fd: int | None = None
        self._lines: IO[str] | None = None
        self._wavs: dict[str, tuple[IO[bytes], wave.Wave_write]] = {}
        self._broken = False  # the current conversation's writes failed: skip the rest
        self._dropped_here = 0  # dropped in the current conversation

    # -- any thread ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
            self._thread.start()

    def put(self, op: Op | Sweep) -> bool:
        """Queue ``op`` (returns at once); False: dropped (the queue is full, or closed)."""
        size = len(op.pcm) if isinstance(op, AppendAudio) else 0
        with self._cond:
            full = len(self._queue) >= self.max_ops or (
                size and self._queued_bytes + size > self.max_queued_bytes
            )
            if self._closed or full:
                self.dropped += 1
                self._dropped_here += 1
                return False
            self._queue.append(op)
            self._queued_bytes += size
            self._cond.notify()
        return True

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every queued operation is carried out (tests); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout_s)

    def close(self, timeout_s: float = 2.0) -> bool:
        """Write what is queued and stop (idempotent); False: the thread was still writing
        after ``timeout_s`` (it ends on its own; the files are closed at exit)."""
        with self._cond:
            if not self._closed:
                self._closed = True
                self._queue.append(_STOP)
                self._cond.notify()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

    # -- the thread ------------------------------------------------------------------------

    _busy = False

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: bool(self._queue))
                    op = self._queue.popleft()
                    if isinstance(op, AppendAudio):
                        self._queued_bytes -= len(op.pcm)
                    self._busy = True
                try:
                    if op is _STOP:
                        self._finish()
                        return
                    self._do(op)
                finally:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()
        finally:
            self._finish()
            if self._root_fd is not None:
                os.close(self._root_fd)
                self._root_fd = None

    def _do(self, op: Op | Sweep) -> None:
        try:
            if isinstance(op, Begin):
                self._begin(op.folder)
            elif isinstance(op, Sweep):
                self._sweep(op)
            elif isinstance(op, Finish):
                self._finish()
            elif self._folder_fd is None or self._broken:
                return
            else:
                self._write(op)
            self.written += 1
        except (OSError, ValueError, wave.Error) as exc:
            self.failures += 1
            if not self._broken:
                log.error(
                    "recording: cannot write in %s (%s): %s", self.root, type(op).__name__, exc
                )
            self._broken = True

    def _open_root(self) -> int:
        if self._root_fd is None:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.root, DIR_FLAGS)
            os.fchmod(fd, 0o700)
            self._root_fd = fd
        return self._root_fd

    def _begin(self, folder: str) -> None:
        self._finish()
        self._broken, self._dropped_here = False, 0
        root_fd = self._open_root()
        name = _safe(folder)
        for n in range(1, 10):
            candidate = name if n == 1 else f"{name}-{n}"
            try:
                os.mkdir(candidate, 0o700, dir_fd=root_fd)
            except FileExistsError:
                continue
            name = candidate
            break
        else:
            raise OSError(f"the folder {name} exists")
        self._folder = name
        self._folder_fd = os.open(name, DIR_FLAGS, dir_fd=root_fd)
        os.fchmod(self._folder_fd, 0o700)
        fd = self._file(TRANSCRIPT, os.O_WRONLY | os.O_APPEND)
        self._lines = os.fdopen(fd, "w", encoding="utf-8")

    def _file(self, name: str, flags: int) -> int:
        assert self._folder_fd is not None
        fd = os.open(_safe(name), flags | FILE_FLAGS, 0o600, dir_fd=self._folder_fd)
        os.fchmod(fd, 0o600)  # whatever the umask
        return fd

    def _write(self, op: Op) -> None:
        match op:
            case Line(text=text):
                assert self._lines is not None
                self._lines.write(text + "\n")
                self._lines.flush()
            case OpenAudio(name=name):
                f = os.fdopen(self._file(name, os.O_RDWR), "w+b")
                w = wave.open(f, "wb")  # noqa: SIM115 (open until its CloseAudio)
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(SAMPLE_RATE_HZ)
                self._wavs[name] = (f, w)
            case AppendAudio(name=name, pcm=pcm):
                if name in self._wavs:
                    self._wavs[name][1].writeframes(pcm)
            case CloseAudio(name=name, keep_bytes=keep):
                self._close_wav(name)
                if keep is not None:
                    self._cut(name, keep)
            case DeleteAudio(names=names):
                for name in names:
                    self._close_wav(name)
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(_safe(name), dir_fd=self._folder_fd)

    def _close_wav(self, name: str) -> None:
        opened = self._wavs.pop(name, None)
        if opened is not None:
            f, w = opened
            try:
                w.close()
                f.flush()
                os.fsync(f.fileno())
            finally:
                f.close()

    def _cut(self, name: str, keep_bytes: int) -> None:
        """Rewrite ``name`` with its first ``keep_bytes`` of audio (a reply cut short)."""
        assert self._folder_fd is not None
        fd = os.open(
            _safe(name), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self._folder_fd
        )
        with os.fdopen(fd, "rb") as src, wave.open(src, "rb") as r:
            if r.getnframes() * 2 <= keep_bytes:
                return
            pcm = r.readframes(keep_bytes // 2)
        tmp = f".{name}.cut"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=self._folder_fd)
        with os.fdopen(self._file(tmp, os.O_WRONLY), "wb") as dst, wave.open(dst, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE_HZ)
            w.writeframes(pcm)
        os.replace(tmp, name, src_dir_fd=self._folder_fd, dst_dir_fd=self._folder_fd)

    def _finish(self) -> None:
        """Close the conversation's files (what was dropped is said in its last line)."""
        for name in list(self._wavs):
            with contextlib.suppress(OSError, wave.Error):
                self._close_wav(name)
        lines, self._lines = self._lines, None
        if lines is not None:
            with contextlib.suppress(OSError, ValueError):
                if self._dropped_here:
                    lines.write(f'{{"type": "dropped", "operations": {self._dropped_here}}}\n')
                lines.flush()
                os.fsync(lines.fileno())
            with contextlib.suppress(OSError):
                lines.close()
        fd, self._folder_fd, self._folder = self._folder_fd, None, None
        if fd is not None:
            os.close(fd)

    def _sweep(self, op: Sweep) -> None:
        keep = {self._folder} if self._folder is not None else set()
        sweep_fd(
            self._open_root(),
            now_s=op.now_s,
            max_age_s=op.max_age_s,
            max_bytes=op.max_bytes,
            keep=keep,
        )


def _safe(name: str) -> str:
    if not SAFE_NAME.match(name.lstrip(".")) or "/" in name or name in (".", ".."):
        raise ValueError(f"not a name the recorder writes: {name[:60]!r}")
    return name
