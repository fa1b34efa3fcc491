"""`RecorderService`: each conversation's transcript and audio, kept in the state folder.

A `Service` and an `AudioTap` (device/services/ports.py): pass the same object to
``Daemon(services=[rec], taps=[rec])``. On the loop thread, ``report``, ``caller_audio``
and ``reply_audio`` hand the conversation's `ConversationRecord` (pure,
conversation_record.py) what happened and queue the operations it returns on the
`Writer`'s thread (writer.py): they return at once, whatever the SD card does. ``run``
applies the retention rule (retention.py) at start, every `SWEEP_EVERY_S` and after each
conversation; ``close`` closes an unfinished conversation's record and lets the writer
finish within its share of the close deadline.

With ``recording.transcripts`` off a record is never made: nothing of a conversation is
written (the counters of metrics live elsewhere); recordings kept while it was on still
expire by the retention rule.

Example::

    rec = build_recorder(settings, config_sha256(Path("site.yaml")), os.environ)
    daemon = Daemon(settings, ..., services=[rec], taps=[rec])
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from device.config.settings import Settings
from device.conversation.reports import ConversationEnded, ConversationStarted, Report
from device.recording.conversation_record import ConversationRecord, Op, RecordPolicy
from device.recording.retention import DAY_S
from device.recording.settings import RecordingSettings
from device.recording.writer import Sweep, Writer
from device.services.ports import Ports

log = logging.getLogger(__name__)

FOLDER = "recordings"
SWEEP_EVERY_S = 3600.0
WRITER_CLOSE_S = 2.0


def config_sha256(path: Path) -> str:
    """The config's hash: sha256 of the config file's bytes (hex); "" if it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def recordings_root(settings: RecordingSettings, environ: Mapping[str, str]) -> Path | None:
    """``<state folder>/recordings``: ``recording.state_dir``, else systemd's first
    StateDirectory (``$STATE_DIRECTORY``); None: neither."""
    if settings.state_dir is not None:
        return settings.state_dir / FOLDER
    state = environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(state) / FOLDER if state else None


class RecorderService:
    """See the module docstring."""

    name = "recording"

    def __init__(
        self,
        settings: RecordingSettings,
        *,
        root: Path,
        config_hash: str = "",
        info: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        writer: Writer | None = None,
    ) -> None:
        """``root``: the recordings folder; ``clock``: the wall clock (s since the epoch:
        the files' times and the retention's now); ``secrets``: values masked wherever
        they appear in a transcript."""
        self.settings = settings
        self.root = root
        self.policy = RecordPolicy(
            audio=settings.audio,
            consent_required=settings.consent == "required",
            config_sha256=config_hash,
            info=dict(info or {}),
            secrets=tuple(s for s in secrets if s),
        )
        self.clock = clock
        self.writer = writer or Writer(root)
        self.record: ConversationRecord | None = None
        self._sweep_due = True
        self._closed = False

    # -- the service and the tap (loop thread; return at once) -----------------------------

    def report(self, t_ms: float, report: Report) -> None:
        match report:
            case ConversationStarted(conversation_id=cid, source=source):
                if self.record is not None:  # never left open: one visitor, one record
                    self._put(self.record.end(t_ms))
                self.record = None
                if self.settings.transcripts and not self._closed:
                    self.writer.start()
                    self.record, ops = ConversationRecord.start(
                        self.policy,
                        conversation_id=cid,
                        source=source,
                        t_ms=t_ms,
                        wall_s=self.clock(),
                    )
                    self._put(ops)
            case _ if self.record is not None:
                self._put(self.record.report(t_ms, report))
                if isinstance(report, ConversationEnded):
                    self.record = None
                    self._sweep_due = True

    def caller_audio(self, t_ms: float, pcm: bytes) -> None:
        if self.record is not None:
            self._put(self.record.caller_audio(t_ms, pcm))

    def reply_audio(self, t_ms: float, item_id: str, pcm: bytes) -> None:
        if self.record is not None:
            self._put(self.record.reply_audio(t_ms, item_id, pcm))

    async def run(self, ports: Ports) -> None:
        if not self.settings.enabled and not self.root.is_dir():
            return  # off, and nothing recorded earlier to expire
        self.writer.start()
        last = -SWEEP_EVERY_S
        while not self._closed:
            now = time.monotonic()
            if self._sweep_due or now - last >= SWEEP_EVERY_S:
                self.sweep()
                self._sweep_due, last = False, now
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.record is not None:
            self._put(self.record.end(self._last_t_ms()))
            self.record = None
        await asyncio.to_thread(self.writer.close, WRITER_CLOSE_S)

    # -- parts -----------------------------------------------------------------------------

    def sweep(self) -> None:
        """Queue the retention rule for the writer's thread (now, on ``clock``)."""
        s = self.settings
        self.writer.put(Sweep(self.clock(), s.retention_days * DAY_S, int(s.max_mb * 1024 * 1024)))

    def _put(self, ops: list[Op]) -> None:
        for op in ops:
            self.writer.put(op)

    def _last_t_ms(self) -> float:
        record = self.record
        if record is None:
            return 0.0
        return record.start_ms + (self.clock() - record.wall_s) * 1000.0


def build_recorder(
    settings: Settings,
    config_hash: str,
    environ: Mapping[str, str],
    *,
    secrets: Iterable[str] = (),
) -> RecorderService | None:
    """The recorder the config asks for (``recording.transcripts``), in its state folder;
    with recording off, one that only applies the retention rule to recordings kept
    earlier (they still expire); None when there is nothing to do, or no state folder."""
    r = settings.recording
    root = recordings_root(r, environ)
    if root is None:
        if r.enabled:
            log.warning(
                "recording: transcripts are on but there is no state folder "
                "(recording.state_dir or systemd's StateDirectory=): nothing is recorded"
            )
        return None
    if not r.enabled and not root.is_dir():
        return None
    info = {
        "device": settings.device.name,
        "site": settings.device.site,
        "model": settings.realtime.model,
    }
    return RecorderService(r, root=root, config_hash=config_hash, info=info, secrets=secrets)
