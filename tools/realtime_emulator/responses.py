"""The session's responses: create, stream, cancel, and the one-active-response rule (pure).

At most one response is active. ``start`` makes one (``response.created``); the player then
drives it with the streaming steps, each returning server events, or ``[]`` once the response
is no longer active (it was cancelled, or another id is asked for):

- a message: ``begin_message``, ``message_chunk`` per audio chunk or text piece,
  ``end_message``;
- a function call: ``function_call_start`` (the item and the argument deltas), then
  ``function_call_end`` (``arguments.done`` and the item's end);
- ``finish``: ``response.done`` (completed) and ``rate_limits.updated``.

``cancel`` ends the active response early (``response.done`` cancelled, with its reason).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.realtime_emulator import events as ev
from tools.realtime_emulator.items import Conversation
from tools.realtime_emulator.script import Plan
from tools.realtime_emulator.vad import BYTES_PER_MS

Events = list[dict[str, Any]]


@dataclass
class Response:
    id: str
    plan: Plan
    output: list[dict[str, Any]] = field(default_factory=list)
    item: dict[str, Any] | None = None
    audio_bytes: int = 0
    text: str = ""


class Responses:
    """The responses of one session. See the module docstring."""

    def __init__(
        self, out: ev.Outbox, conversation: Conversation, config: Callable[[], dict[str, Any]]
    ) -> None:
        self.out = out
        self.conversation = conversation
        self._config = config
        self.active: Response | None = None

    def is_active(self, response_id: str) -> bool:
        return self.active is not None and self.active.id == response_id

    def _current(self, response_id: str) -> Response | None:
        return self.active if self.is_active(response_id) else None

    def audio_out(self) -> bool:
        return "text" not in (self._config().get("output_modalities") or ["audio"])

    # ---- create and cancel --------------------------------------------------------------

    def refusal(self, event_id: str | None) -> dict[str, Any] | None:
        """The error for a ``response.create`` while one is active, else None."""
        if self.active is None:
            return None
        msg = (
            "Conversation already has an active response in progress: "
            f"{self.active.id}. Wait until the response is finished before creating a "
            "new one."
        )
        return self.out.error("conversation_already_has_active_response", msg, event_id=event_id)

    def start(self, plan_for: Callable[[], Plan]) -> tuple[Response, dict[str, Any]]:
        """Make the active response (its plan from ``plan_for``); its ``response.created``."""
        resp_id = self.out.ids.next("resp")
        resp = Response(id=resp_id, plan=plan_for())
        self.active = resp
        obj = ev.response_object(resp.id, self._config(), status="in_progress", output=[])
        return resp, self.out.stamp({"type": "response.created", "response": obj})

    def cancel_request(self, event: dict[str, Any], eid: str | None) -> Events:
        """``response.cancel`` from the client."""
        wanted = event.get("response_id")
        if self.active is None or (wanted is not None and wanted != self.active.id):
            msg = "Cancellation failed: no active response found"
            return [self.out.error("response_cancel_not_active", msg, event_id=eid)]
        return self.cancel("client_cancelled")

    def cancel(self, reason: str) -> Events:
        """End the active response now (``turn_detected``, ``client_cancelled``)."""
        r = self.active
        if r is None:
            return []
        out: Events = []
        if r.item is not None:
            r.item["status"] = "incomplete"
            if r.item["type"] == "message":
                key = "transcript" if self.audio_out() else "text"
                kind = "output_audio" if self.audio_out() else "output_text"
                r.item["content"] = [{"type": kind, key: r.text}]
            out += self._item_closed(r)
        return out + self._done(r, "cancelled", {"type": "cancelled", "reason": reason})

    # ---- streaming steps ----------------------------------------------------------------

    def begin_message(self, response_id: str) -> Events:
        """Open the assistant message item and its content part."""
        r = self._current(response_id)
        if r is None:
            return []
        r.item = {
            "id": self.out.ids.next("item"),
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        self.conversation.open(r.item)
        audio = self.audio_out()
        part = {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
        added = self.out.stamp(
            {"type": "response.content_part.added", **self._where(r), "part": part}
        )
        return [*self._item_opened(r), added]

    def message_chunk(self, response_id: str, pcm: bytes, text: str) -> Events:
        """One piece of the reply: audio (may be empty in text mode) and its transcript text."""
        r = self._current(response_id)
        if r is None or r.item is None:
            return []
        out: Events = []
        w = self._where(r)
        if self.audio_out():
            if pcm:
                r.audio_bytes += len(pcm)
                self.conversation.set_audio_ms(r.item["id"], r.audio_bytes / BYTES_PER_MS)
                delta = base64.b64encode(pcm).decode("ascii")
                out.append(
                    self.out.stamp({"type": "response.output_audio.delta", **w, "delta": delta})
                )
            if text:
                out.append(
                    self.out.stamp(
                        {"type": "response.output_audio_transcript.delta", **w, "delta": text}
                    )
                )
        elif text:
            out.append(self.out.stamp({"type": "response.output_text.delta", **w, "delta": text}))
        r.text += text
        return out

    def end_message(self, response_id: str) -> Events:
        """Close the content part and the item."""
        r = self._current(response_id)
        if r is None or r.item is None:
            return []
        w = self._where(r)
        stamp = self.out.stamp
        if self.audio_out():
            out = [
                stamp({"type": "response.output_audio.done", **w}),
                stamp({"type": "response.output_audio_transcript.done", **w, "transcript": r.text}),
                stamp(
                    {
                        "type": "response.content_part.done",
                        **w,
                        "part": {"type": "audio", "transcript": r.text},
                    }
                ),
            ]
            r.item["content"] = [{"type": "output_audio", "transcript": r.text}]
        else:
            out = [
                stamp({"type": "response.output_text.done", **w, "text": r.text}),
                stamp(
                    {
                        "type": "response.content_part.done",
                        **w,
                        "part": {"type": "text", "text": r.text},
                    }
                ),
            ]
            r.item["content"] = [{"type": "output_text", "text": r.text}]
        r.item["status"] = "completed"
        return out + self._item_closed(r)

    def function_call_start(self, response_id: str) -> Events:
        """Open the function-call item and send its argument deltas."""
        r = self._current(response_id)
        if r is None or r.plan.tool_call is None:
            return []
        call = r.plan.tool_call
        call_id = self.out.ids.next("call")
        self.conversation.calls.add(call_id)
        r.item = {
            "id": self.out.ids.next("item"),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": call.name,
            "call_id": call_id,
            "arguments": "",
        }
        self.conversation.open(r.item)
        out = self._item_opened(r)
        half = len(call.arguments) // 2
        for piece in (call.arguments[:half], call.arguments[half:]):
            if piece:
                out.append(
                    self.out.stamp(
                        {
                            "type": "response.function_call_arguments.delta",
                            **self._call(r),
                            "delta": piece,
                        }
                    )
                )
        return out

    def function_call_end(self, response_id: str) -> Events:
        """``function_call_arguments.done`` and the end of the function-call item."""
        r = self._current(response_id)
        if r is None or r.plan.tool_call is None or r.item is None:
            return []
        call = r.plan.tool_call
        out = [
            self.out.stamp(
                {
                    "type": "response.function_call_arguments.done",
                    **self._call(r),
                    "name": call.name,
                    "arguments": call.arguments,
                }
            )
        ]
        r.item.update(arguments=call.arguments, status="completed")
        r.text = call.name + call.arguments
        return out + self._item_closed(r)

    def finish(self, response_id: str) -> Events:
        """``response.done`` (completed) and ``rate_limits.updated``."""
        r = self._current(response_id)
        if r is None:
            return []
        return self._done(r, "completed", None)

    # ---- helpers ------------------------------------------------------------------------

    def _done(self, r: Response, status: str, details: dict[str, Any] | None) -> Events:
        config = self._config()
        conv = self.conversation
        in_text = ev.text_tokens(str(config.get("instructions") or "")) + conv.ctx_text_tokens
        in_text += ev.text_tokens(json.dumps(config.get("tools") or []))
        out_audio = int(r.audio_bytes / BYTES_PER_MS // 50)  # about 20 tokens per second
        out_text = ev.text_tokens(r.text)
        use = ev.usage(conv.ctx_audio_tokens, in_text, out_audio, out_text)
        conv.ctx_audio_tokens += out_audio
        conv.ctx_text_tokens += out_text
        obj = ev.response_object(
            r.id, config, status=status, output=r.output, status_details=details, usage_=use
        )
        self.active = None
        return [
            self.out.stamp({"type": "response.done", "response": obj}),
            self.out.stamp({"type": "rate_limits.updated", "rate_limits": ev.rate_limits()}),
        ]

    def _where(self, r: Response) -> dict[str, Any]:
        assert r.item is not None
        return {
            "response_id": r.id,
            "item_id": r.item["id"],
            "output_index": len(r.output),
            "content_index": 0,
        }

    def _call(self, r: Response) -> dict[str, Any]:
        assert r.item is not None
        return {
            "response_id": r.id,
            "item_id": r.item["id"],
            "output_index": len(r.output),
            "call_id": r.item["call_id"],
        }

    def _item_opened(self, r: Response) -> Events:
        assert r.item is not None
        item = copy.deepcopy(r.item)
        prev = self.conversation.previous_of(item["id"])
        return [
            self.out.stamp(
                {
                    "type": "response.output_item.added",
                    "response_id": r.id,
                    "output_index": len(r.output),
                    "item": item,
                }
            ),
            self.out.stamp(
                {
                    "type": "conversation.item.added",
                    "previous_item_id": prev,
                    "item": copy.deepcopy(item),
                }
            ),
        ]

    def _item_closed(self, r: Response) -> Events:
        assert r.item is not None
        item = copy.deepcopy(r.item)
        prev = self.conversation.previous_of(item["id"])
        out = [
            self.out.stamp(
                {
                    "type": "response.output_item.done",
                    "response_id": r.id,
                    "output_index": len(r.output),
                    "item": item,
                }
            ),
            self.out.stamp(
                {
                    "type": "conversation.item.done",
                    "previous_item_id": prev,
                    "item": copy.deepcopy(item),
                }
            ),
        ]
        r.output.append(item)
        r.item = None
        return out
