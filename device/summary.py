"""The run summary (`--summary-json`) and the readable timeline, built from engine reports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from device.conversation import Report
from device.tools.audit import redact


def shown_arguments(raw: str) -> Any:
    """A tool call's JSON arguments as an object, secret-named values masked.

    Arguments that are not JSON (the model wrote nonsense) are kept as text.
    """
    try:
        return redact(json.loads(raw))
    except ValueError:
        return raw


@dataclass
class RunSummary:
    """What a run did, as written by ``voice-kiosk run --summary-json PATH``."""

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
    usage: dict[str, int] = field(
        default_factory=lambda: {
            "input_tokens": 0,
            "output_tokens": 0,
            "input_audio_tokens": 0,
            "output_audio_tokens": 0,
        }
    )

    def add(self, report: Report) -> None:
        d = report.data
        match report.kind:
            case "turn":
                self.turns += 1
            case "user":
                self.user_transcripts.append(d["text"])
            case "assistant":
                self.assistant_transcripts.append(d["text"])
            case "tool":
                call = {k: d[k] for k in ("name", "ok", "ms", "output", "action")}
                call["arguments"] = shown_arguments(d["arguments"])
                self.tool_calls.append(call)
            case "first_audio":
                self.first_audio_latency_ms.append(d["latency_ms"])
            case "error":
                self.errors.append({"code": str(d.get("code")), "message": str(d.get("message"))})
            case "usage":
                for key in self.usage:
                    self.usage[key] += int(d.get(key) or 0)
            case "conversation_end":
                self.conversations += 1
                if "hangup_ms" in d:
                    self.hangup_ms.append(d["hangup_ms"])
            case "handover":
                self.handovers += 1
            case _:
                pass

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["reply_audio_ms"] = round(self.reply_audio_ms, 1)
        out["prompt_audio_ms"] = round(self.prompt_audio_ms, 1)
        return out


def timeline_line(t_ms: float, report: Report) -> str | None:
    """One readable line for the timeline, or None for reports not worth a line."""
    d = report.data
    text: str | None
    match report.kind:
        case "state":
            text = f"state  {d['old']} -> {d['new']}"
        case "user":
            text = f'caller "{d["text"]}"'
        case "assistant":
            text = f'reply  "{d["text"]}"'
        case "tool":
            status = "ok" if d["ok"] else "FAILED"
            args = json.dumps(shown_arguments(d["arguments"]))
            text = f"tool   {d['name']}({args}) {status} in {d['ms']:.0f} ms"
        case "first_audio":
            text = f"audio  first reply audio {d['latency_ms']:.0f} ms after the caller stopped"
        case "error":
            text = f"error  {d.get('code')}: {d.get('message')}"
        case "note":
            text = f"note   {d.get('text') or d.get('message')}"
        case "conversation_end":
            text = f"end    conversation over: {d['reason']}"
            if "hangup_ms" in d:
                text += f" (hung up {d['hangup_ms']:.0f} ms after the model's call)"
        case "handover":
            text = "handover  a human was called"
        case _:
            text = None
    return None if text is None else f"{t_ms / 1000.0:7.2f}s  {text}"
