"""One conversation's recording, pure: reports and audio in, file operations out.

`ConversationRecord` is built when a conversation starts (`ConversationRecord.start`) and
dropped when it ends: one visitor, one object. It never reads the clock (``t_ms`` of the
reports and the wall clock at the start are passed in) and does no I/O: each method returns
the operations (`Op`, ops.py) a writer carries out in order, in the conversation's folder:

- `Begin(folder)`: make the folder (``<UTC start>-<conversation id>``);
- `Line(text)`: one JSON line of ``conversation.jsonl`` (secrets masked, fields bounded by
  device/tools/audit.py's ``audit_line``);
- `OpenAudio(name)` / `AppendAudio(name, pcm)` / `CloseAudio(name, keep_bytes)`: a WAV file
  (24 kHz PCM16 mono); ``keep_bytes`` cuts it (a reply interrupted: what the caller heard);
- `DeleteAudio(names)`: the caller said no to being recorded: its audio goes;
- `Finish()`: the conversation's files are complete.

Contract: call `report` with every report after the one that started it, `caller_audio` /
`reply_audio` with the audio taps' chunks, in the order they happened; after a
``ConversationEnded`` report (or `end`), `finished` is True and every method returns [].

The caller's audio is split at ``TurnEnded`` reports, one file per turn
(``turn-01-caller.wav``), exactly as uploaded: a test case replays turn by turn. Audio after
the last ``TurnEnded`` (the caller still talking, or the hang-over) is the next turn's file,
marked ``"ended": false``. Each reply item is a file (``reply-01.wav``) cut where an
``Interrupted`` report says the caller stopped hearing it.

Example::

    record, ops = ConversationRecord.start(policy, conversation_id="conv-1",
                                           source="button", t_ms=0.0, wall_s=1.75e9)
    ops += record.report(900.0, CallerSaid("What are your opening hours?"))
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from device.conversation.reports import (
    AssistantSaid,
    CallerSaid,
    ConsentAnswered,
    ConversationEnded,
    CostReported,
    ErrorReported,
    FirstAudio,
    HandedOver,
    Interrupted,
    LimitReached,
    PromptPlayed,
    Report,
    ToolReported,
    TurnEnded,
)
from device.recording.ops import (
    BYTES_PER_MS,
    SAMPLE_RATE_HZ,
    AppendAudio,
    Begin,
    CloseAudio,
    DeleteAudio,
    Finish,
    Line,
    Op,
    OpenAudio,
    folder_name,
    iso_time,
)
from device.tools.audit import audit_line

VERSION = 1


@dataclass(frozen=True, slots=True)
class RecordPolicy:
    """What is kept of every conversation (from `RecordingSettings` and the daemon)."""

    audio: bool = False
    consent_required: bool = False
    config_sha256: str = ""
    info: Mapping[str, str] = field(default_factory=dict)  # device, site, model
    secrets: tuple[str, ...] = ()  # credential values masked wherever they appear


def _parsed(text: str) -> Any:
    """A tool's JSON text as data (so secret-named keys can be masked), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(slots=True)
class _Reply:
    name: str
    received: int = 0  # bytes handed to the speaker
    keep: int | None = None  # bytes the caller heard (an interruption), None: all
    closed: bool = False


class ConversationRecord:
    """See the module docstring."""

    def __init__(self, policy: RecordPolicy, *, start_ms: float, wall_s: float) -> None:
        self.policy = policy
        self.start_ms = start_ms
        self.wall_s = wall_s
        self.finished = False
        self._consent: bool | None = None  # the caller's answer, None: not asked
        self._turn = 1  # the caller's turn the next audio belongs to
        self._last_turn = 0  # the last turn ended
        self._caller: str | None = None  # the open caller file
        self._caller_bytes = 0
        self._skipped_bytes = 0  # caller audio not kept (no consent yet)
        self._replies: dict[str, _Reply] = {}
        self._current: str | None = None  # the reply item being written
        self._names: set[str] = set()
        self._files: list[str] = []  # audio files written and not deleted
        self._tools = 0
        self._interruptions = 0
        self._cost: Decimal | None = None

    @classmethod
    def start(
        cls,
        policy: RecordPolicy,
        *,
        conversation_id: str,
        source: str,
        t_ms: float,
        wall_s: float,
    ) -> tuple[ConversationRecord, list[Op]]:
        """The record of a conversation that started at ``t_ms`` (the reports' clock),
        ``wall_s`` (the wall clock, s since the epoch), and its first operations."""
        record = cls(policy, start_ms=t_ms, wall_s=wall_s)
        header = {
            "type": "conversation",
            "version": VERSION,
            "conversation_id": conversation_id,
            "source": source,
            "time": iso_time(wall_s),
            "config_sha256": policy.config_sha256,
            **dict(policy.info),
            "audio": policy.audio,
            "consent": "required" if policy.consent_required else "not_asked",
            "sample_rate_hz": SAMPLE_RATE_HZ,
            "sample_format": "s16le mono",
        }
        ops: list[Op] = [Begin(folder_name(wall_s, conversation_id))]
        ops.append(record._line(header))
        return record, ops

    # -- what a writer gets ----------------------------------------------------------------

    @property
    def audio_allowed(self) -> bool:
        """Audio is kept now: on, and the caller did not say no (and said yes, when
        consent is required)."""
        if not self.policy.audio or self._consent is False:
            return False
        return self._consent is True or not self.policy.consent_required

    def report(self, t_ms: float, report: Report) -> list[Op]:
        """The operations one report asks for (none for most)."""
        if self.finished:
            return []
        at = {"t_ms": round(t_ms - self.start_ms, 1), "time": self._time(t_ms)}
        match report:
            case TurnEnded(n=n):
                ops = self._close_caller(n, at, ended=True)
                self._turn, self._last_turn = n + 1, n
                return ops
            case CallerSaid(text=text):
                return [
                    self._line({"type": "caller", **at, "turn": self._last_turn or 1, "text": text})
                ]
            case AssistantSaid(text=text):
                return [self._line({"type": "assistant", **at, "text": text})]
            case ToolReported():
                self._tools += 1
                return [self._line(self._tool(report, at))]
            case Interrupted():
                self._interruptions += 1
                return self._interrupted(report, at)
            case ConsentAnswered(recorded=recorded, source=source):
                return self._consent_answered(recorded, source, at)
            case CostReported(response_id=rid, model=model, cost=cost, conversation_cost=total):
                self._cost = total
                cost_line = {
                    "type": "cost", **at, "response_id": rid, "model": model,
                    "cost_usd": str(cost), "conversation_cost_usd": str(total),
                }  # fmt: skip
                return [self._line(cost_line)]
            case FirstAudio(latency_ms=latency_ms):
                return [self._line({"type": "first_audio", **at, "latency_ms": latency_ms})]
            case HandedOver(tool=tool, reason=reason):
                return [self._line({"type": "handed_over", **at, "tool": tool, "reason": reason})]
            case LimitReached(scope=scope, spent=spent, limit=limit):
                limit_line = {
                    "type": "limit", **at, "scope": scope, "spent_usd": str(spent),
                    "limit_usd": str(limit),
                }  # fmt: skip
                return [self._line(limit_line)]
            case PromptPlayed(name=name, ms=ms):
                return [self._line({"type": "prompt", **at, "name": name, "ms": round(ms, 1)})]
            case ErrorReported(code=code, message=message):
                return [self._line({"type": "error", **at, "code": code, "message": message})]
            case ConversationEnded():
                return self.end(t_ms, report)
        return []

    def caller_audio(self, t_ms: float, pcm: bytes) -> list[Op]:
        """A chunk as uploaded: into this turn's file, when audio may be kept."""
        if self.finished or not pcm:
            return []
        if not self.audio_allowed:
            self._skipped_bytes += len(pcm)
            return []
        ops: list[Op] = []
        if self._caller is None:
            self._caller = self._new_name(f"turn-{self._turn:02d}-caller")
            self._caller_bytes = 0
            ops.append(OpenAudio(self._caller))
        self._caller_bytes += len(pcm)
        ops.append(AppendAudio(self._caller, pcm))
        return ops

    def reply_audio(self, t_ms: float, item_id: str, pcm: bytes) -> list[Op]:
        """A piece of reply item ``item_id`` as handed to the speaker."""
        if self.finished or not pcm or not self.audio_allowed:
            return []
        ops: list[Op] = []
        reply = self._replies.get(item_id)
        if reply is None:
            ops += self._close_reply()
            reply = _Reply(self._new_name(f"reply-{len(self._replies) + 1:02d}"))
            self._replies[item_id] = reply
            self._current = item_id
            ops.append(OpenAudio(reply.name))
        elif reply.closed or item_id != self._current:
            return []  # after its cut (or a later item began): never heard
        reply.received += len(pcm)
        ops.append(AppendAudio(reply.name, pcm))
        return ops

    def end(self, t_ms: float, ended: ConversationEnded | None = None) -> list[Op]:
        """Close the record (``ended``: the report that ended the conversation; None: the
        daemon stopped under it, outcome ``unfinished``)."""
        if self.finished:
            return []
        at = {"t_ms": round(t_ms - self.start_ms, 1), "time": self._time(t_ms)}
        ops = self._close_caller(self._turn, at, ended=False)
        ops += self._close_reply()
        for item_id, reply in self._replies.items():
            if reply.name not in self._files:
                continue
            kept = reply.received if reply.keep is None else min(reply.keep, reply.received)
            audio = {
                "type": "reply_audio", "item_id": item_id, "file": reply.name,
                "received_ms": round(reply.received / BYTES_PER_MS, 1),
                "audio_ms": round(kept / BYTES_PER_MS, 1),
                "cut_at_ms": None if reply.keep is None else round(reply.keep / BYTES_PER_MS, 1),
            }  # fmt: skip
            ops.append(self._line(audio))
        end: dict[str, Any] = {
            "type": "end", **at,
            "outcome": ended.outcome.value if ended is not None else "unfinished",
            "reason": ended.reason if ended is not None else "the daemon stopped",
            "hangup_ms": ended.hangup_ms if ended is not None else None,
            "turns": self._last_turn, "tool_calls": self._tools,
            "interruptions": self._interruptions,
            "cost_usd": None if self._cost is None else str(self._cost),
            "audio_files": list(self._files),
        }  # fmt: skip
        if self._skipped_bytes:
            end["caller_audio_not_kept_ms"] = round(self._skipped_bytes / BYTES_PER_MS, 1)
        ops += [self._line(end), Finish()]
        self.finished = True
        return ops

    # -- parts -----------------------------------------------------------------------------

    def _time(self, t_ms: float) -> str:
        return iso_time(self.wall_s + (t_ms - self.start_ms) / 1000.0)

    def _line(self, record: dict[str, Any]) -> Line:
        return Line(audit_line(record, self.policy.secrets))

    def _new_name(self, stem: str) -> str:
        name, n = f"{stem}.wav", 1
        while name in self._names:  # a turn's audio resumed after a pause in consent
            n += 1
            name = f"{stem}-{n}.wav"
        self._names.add(name)
        self._files.append(name)
        return name

    def _close_caller(self, turn: int, at: dict[str, Any], *, ended: bool) -> list[Op]:
        """Close this turn's file (if any) and say which turn it holds."""
        name, self._caller = self._caller, None
        if name is None and not ended:
            return []
        ops: list[Op] = [] if name is None else [CloseAudio(name)]
        line = {
            "type": "turn", **at, "turn": turn, "ended": ended, "caller_audio": name,
            "audio_ms": round(self._caller_bytes / BYTES_PER_MS, 1) if name else 0.0,
        }  # fmt: skip
        self._caller_bytes = 0
        return [*ops, self._line(line)]

    def _close_reply(self) -> list[Op]:
        item_id, self._current = self._current, None
        reply = self._replies.get(item_id) if item_id is not None else None
        if reply is None or reply.closed:
            return []
        reply.closed = True
        return [CloseAudio(reply.name, reply.keep)]

    def _tool(self, report: ToolReported, at: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "tool", **at, "name": report.name, "arguments": _parsed(report.arguments),
            "ok": report.ok, "ms": report.ms, "output": _parsed(report.output),
            "action": report.action,
        }  # fmt: skip

    def _interrupted(self, report: Interrupted, at: dict[str, Any]) -> list[Op]:
        line = {
            "type": "interrupted", **at, "source": report.source, "item_id": report.item_id,
            "audio_end_ms": report.audio_end_ms, "stop_ms": report.stop_ms,
        }  # fmt: skip
        ops: list[Op] = [self._line(line)]
        reply = self._replies.get(report.item_id or "")
        if reply is None or report.audio_end_ms is None:
            return ops
        reply.keep = max(0, report.audio_end_ms) * BYTES_PER_MS
        if report.item_id == self._current:
            ops += self._close_reply()
        elif reply.closed and reply.name in self._files:
            ops.append(CloseAudio(reply.name, reply.keep))  # cut the file already closed
        reply.closed = True
        return ops

    def _consent_answered(self, recorded: bool, source: str, at: dict[str, Any]) -> list[Op]:
        self._consent = recorded
        ops: list[Op] = [
            self._line({"type": "consent", **at, "recorded": recorded, "source": source})
        ]
        if recorded or not self._files:
            return ops
        # a no: stop, and delete what was kept of this caller's voice and of the replies
        if self._caller is not None:
            ops.append(CloseAudio(self._caller))
            self._caller, self._caller_bytes = None, 0
        ops += self._close_reply()
        for reply in self._replies.values():
            reply.closed = True
        deleted, self._files = tuple(self._files), []
        ops.append(DeleteAudio(deleted))
        ops.append(self._line({"type": "audio_deleted", **at, "files": list(deleted)}))
        return ops
