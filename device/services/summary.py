"""Two sinks: the run summary (`--summary-json`) and the readable timeline."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TextIO

from device.common.logfold import Folder
from device.common.text import one_line
from device.conversation.reports import (
    AssistantSaid,
    AudioDeviceChanged,
    CallerSaid,
    ConversationEnded,
    ConversationStarted,
    ErrorReported,
    FirstAudio,
    HandedOver,
    Interrupted,
    MuteChanged,
    Note,
    PromptPlayed,
    Ready,
    ReplyPaused,
    Report,
    StateChanged,
    ToolReported,
    TurnEnded,
    UsageReported,
    WorkerFailed,
)
from device.tools.audit import bounded, redact


def shown_arguments(raw: str) -> Any:
    """A tool call's JSON arguments as an object, secret-named values masked.

    Arguments that are not JSON (the model wrote nonsense) are kept as text.
    """
    try:
        return redact(json.loads(raw))
    except (ValueError, RecursionError):
        return raw


@dataclass
class RunSummary:
    """What a run did, as written by ``voice-kiosk run --summary-json PATH`` (a sink)."""

    turns: int = 0
    user_transcripts: list[str] = field(default_factory=list)
    assistant_transcripts: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    reply_audio_ms: float = 0.0
    prompt_audio_ms: float = 0.0
    first_audio_latency_ms: list[float] = field(default_factory=list)
    hangup_ms: list[float] = field(default_factory=list)  # end_session call to hang-up
    errors: list[dict[str, str]] = field(default_factory=list)
    conversations: int = 0
    handovers: int = 0
    interruptions: int = 0  # the caller cut a reply short (a frustration signal)
    # per interruption: where the reply was cut (ms of its item) and how long the stop took
    truncated_at_ms: list[int | None] = field(default_factory=list)
    interrupt_stop_ms: list[float | None] = field(default_factory=list)
    # a suspected caller paused the reply and it went on (no caller confirmed): ms of each
    reply_pause_ms: list[float] = field(default_factory=list)
    muted: bool = False  # the microphone is muted (at the end of the run)
    mute_changes: int = 0  # mutes and unmutes (switch, SIGUSR2, a service)
    usage: dict[str, int] = field(
        default_factory=lambda: {
            "input_tokens": 0,
            "output_tokens": 0,
            "input_audio_tokens": 0,
            "output_audio_tokens": 0,
        }
    )

    def report(self, t_ms: float, report: Report) -> None:
        self.add(report)

    def add(self, report: Report) -> None:
        match report:
            case TurnEnded():
                self.turns += 1
            case CallerSaid(text=text):
                self.user_transcripts.append(text)
            case AssistantSaid(text=text):
                self.assistant_transcripts.append(text)
            case ToolReported():
                self.tool_calls.append(  # long fields cut as the audit file cuts them
                    bounded(
                        {
                            "name": report.name,
                            "ok": report.ok,
                            "ms": report.ms,
                            "output": report.output,
                            "action": report.action,
                            "arguments": shown_arguments(report.arguments),
                        }
                    )
                )
            case FirstAudio(latency_ms=latency_ms):
                self.first_audio_latency_ms.append(latency_ms)
            case ErrorReported(code=code, message=message):
                self.errors.append({"code": code, "message": message})
            case AudioDeviceChanged(ok=False, message=message):
                self.errors.append({"code": "audio", "message": message})
            case WorkerFailed(name=name, error=error):
                self.errors.append({"code": "worker", "message": f"{name}: {error}"})
            case UsageReported(usage=usage):
                self.usage["input_tokens"] += usage.input_tokens
                self.usage["output_tokens"] += usage.output_tokens
                self.usage["input_audio_tokens"] += usage.input_audio_tokens
                self.usage["output_audio_tokens"] += usage.output_audio_tokens
            case ConversationEnded(hangup_ms=hangup_ms):
                self.conversations += 1
                if hangup_ms is not None:
                    self.hangup_ms.append(hangup_ms)
            case HandedOver():
                self.handovers += 1
            case Interrupted(audio_end_ms=end_ms, stop_ms=stop_ms):
                self.interruptions += 1
                self.truncated_at_ms.append(end_ms)
                self.interrupt_stop_ms.append(stop_ms)
            case ReplyPaused(pause_ms=pause_ms):
                self.reply_pause_ms.append(round(pause_ms, 1))
            case PromptPlayed(ms=ms):
                self.prompt_audio_ms += ms
            case MuteChanged(muted=muted):
                self.muted = muted
                self.mute_changes += 1
            case _:
                pass

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["reply_audio_ms"] = round(self.reply_audio_ms, 1)
        out["prompt_audio_ms"] = round(self.prompt_audio_ms, 1)
        return out


def timeline_text(report: Report) -> str | None:
    """The readable part of a timeline line, or None for reports not worth a line.

    Text from outside (the caller's and the model's words, tool output, server messages)
    is escaped to one line and capped.
    """
    match report:
        case StateChanged(old=old, new=new):
            return f"state  {old.value} -> {new.value}"
        case ConversationStarted(conversation_id=cid, source=source):
            return f"note   conversation {cid} ({one_line(source, 80)})"
        case CallerSaid(text=text):
            return f'caller "{one_line(text)}"'
        case AssistantSaid(text=text):
            return f'reply  "{one_line(text)}"'
        case ToolReported():
            status = "ok" if report.ok else "FAILED"
            args = one_line(json.dumps(shown_arguments(report.arguments)))
            return f"tool   {report.name}({args}) {status} in {report.ms:.0f} ms"
        case FirstAudio(latency_ms=latency_ms):
            return f"audio  first reply audio {latency_ms:.0f} ms after the caller stopped"
        case ErrorReported(code=code, message=message):
            return f"error  {one_line(code, 80)}: {one_line(message)}"
        case AudioDeviceChanged(ok=ok, message=message):
            return f"note   {one_line(message)}" if ok else f"error  audio: {one_line(message)}"
        case WorkerFailed(name=name, error=error, restarted=restarted):
            then = "restarted" if restarted else "not restarted"
            return f"error  {name} failed: {one_line(error)} ({then})"
        case Note(text=text):
            return f"note   {one_line(text)}"
        case PromptPlayed(name=name, ms=ms):
            return f"note   playing prompt '{name}' ({ms:.0f} ms)"
        case ConversationEnded(reason=reason, hangup_ms=hangup_ms):
            text = f"end    conversation over: {one_line(reason)}"
            if hangup_ms is not None:
                text += f" (hung up {hangup_ms:.0f} ms after the model's call)"
            return text
        case HandedOver():
            return "handover  a human was called"
        case Interrupted(source=source, n=n, item_id=item_id, audio_end_ms=end_ms):
            cut = f"reply cut at {end_ms} ms of {item_id}" if item_id else "nothing to cut"
            if report.stop_ms is not None:
                cut += f", speaker silent {report.stop_ms:.0f} ms after the interruption"
            return f"interrupt  #{n} by {one_line(source, 80)}: {cut}"
        case MuteChanged(muted=muted, source=source):
            what = "muted: nothing is heard" if muted else "unmuted"
            return f"mute   {what} ({one_line(source, 80)})"
        case Ready(standby=standby, offline=offline):
            how = (
                "offline: the local prompts answer, the link is retried"
                if offline
                else ("the warm session is up" if standby else "no warm session (standby off)")
            )
            return f"ready  serving ({how})"
        case ReplyPaused(pause_ms=pause_ms, expired=expired):
            why = "not confirmed within hold_ms" if expired else "the sound ended"
            return f"pause  reply paused {pause_ms:.0f} ms on a suspected caller, went on ({why})"
        case _:
            return None


def timeline_line(t_ms: float, report: Report) -> str | None:
    """One timeline line (time, then `timeline_text`), or None."""
    text = timeline_text(report)
    return None if text is None else f"{t_ms / 1000.0:7.2f}s  {text}"


class TimelineSink:
    """The readable timeline on a text stream; repeats of one error folded with a count."""

    def __init__(self, out: TextIO, window_ms: float = 10_000) -> None:
        self._out = out
        self._folder = Folder(window_ms)

    def report(self, t_ms: float, report: Report) -> None:
        line = timeline_line(t_ms, report)
        if line is None:
            return
        if isinstance(report, ErrorReported):
            folded = self._folder.offer(report.code, t_ms)
            if folded is None:
                return
            if folded:
                line += f" ({folded} more like it before this)"
        print(line, file=self._out, flush=True)
        if isinstance(report, ConversationEnded):
            self.flush(t_ms)

    def flush(self, t_ms: float) -> None:
        for code, count in self._folder.drain().items():
            print(
                f"{t_ms / 1000.0:7.2f}s  error  {one_line(code, 80)}: {count} more like it",
                file=self._out,
                flush=True,
            )
