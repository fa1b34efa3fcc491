"""The session's conversation items: add, create, truncate, delete, function-call outputs (pure).

Items are kept in order of addition (``previous_item_id`` is the one before). Each item
remembers how many ms of assistant audio were sent in it, which is what a truncate may cut.
The conversation also counts the context tokens its text and audio add up to (for the usage
in ``response.done``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from tools.realtime_emulator.events import Outbox, text_tokens


@dataclass
class Entry:
    item: dict[str, Any]
    audio_ms: float = 0.0  # assistant audio sent so far (what truncate may cut)


@dataclass(frozen=True)
class Created:
    """``conversation.item.create`` accepted: the events and the stored item."""

    events: list[dict[str, Any]]
    item: dict[str, Any]


class Conversation:
    """The items of one session. See the module docstring."""

    def __init__(self, out: Outbox) -> None:
        self.out = out
        self.entries: dict[str, Entry] = {}
        self.calls: set[str] = set()  # call_ids of function calls the model made
        self.ctx_audio_tokens = 0
        self.ctx_text_tokens = 0

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.entries

    def last_id(self) -> str | None:
        return next(reversed(self.entries), None)

    def previous_of(self, item_id: str) -> str | None:
        """The id of the latest item other than ``item_id`` (what comes before it)."""
        before = [k for k in self.entries if k != item_id]
        return before[-1] if before else None

    def open(self, item: dict[str, Any]) -> None:
        """Store an item a response is producing (its events are the response's)."""
        self.entries[item["id"]] = Entry(item)

    def set_audio_ms(self, item_id: str, audio_ms: float) -> None:
        self.entries[item_id].audio_ms = audio_ms

    def add(self, item: dict[str, Any], previous: str | None = None) -> list[dict[str, Any]]:
        """Store a finished item; ``conversation.item.added`` and ``.done``."""
        prev = previous if previous is not None else self.last_id()
        self.entries[item["id"]] = Entry(item)
        return [
            self.out.stamp({"type": kind, "previous_item_id": prev, "item": copy.deepcopy(item)})
            for kind in ("conversation.item.added", "conversation.item.done")
        ]

    @staticmethod
    def user_audio(item_id: str) -> dict[str, Any]:
        """The user message item a commit of input audio makes."""
        return {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }

    def create(self, event: dict[str, Any], eid: str | None) -> Created | list[dict[str, Any]]:
        """``conversation.item.create``: a `Created`, or the error events if refused."""
        item = event.get("item")
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            msg = "Missing required parameter: 'item.type'."
            return [
                self.out.error("missing_required_parameter", msg, param="item.type", event_id=eid)
            ]
        item = copy.deepcopy(item)
        item_id = item.get("id") or self.out.ids.next("item")
        if item_id in self.entries:
            msg = f"Item with id '{item_id}' already exists."
            return [self.out.error("invalid_value", msg, param="item.id", event_id=eid)]
        item.update(id=item_id, object="realtime.item", status="completed")
        if item["type"] == "function_call_output":
            call_id = item.get("call_id")
            if call_id not in self.calls:
                msg = f"Tool call ID '{call_id}' not found in conversation."
                return [self.out.error("invalid_value", msg, param="item.call_id", event_id=eid)]
            self.ctx_text_tokens += text_tokens(str(item.get("output", "")))
        elif item["type"] == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    self.ctx_text_tokens += text_tokens(part["text"])
        return Created(self.add(item, event.get("previous_item_id")), item)

    def truncate(self, event: dict[str, Any], eid: str | None) -> list[dict[str, Any]]:
        """``conversation.item.truncate``: cut an assistant item's audio (and its transcript)."""
        item_id, end_ms = event.get("item_id"), event.get("audio_end_ms")
        index = event.get("content_index", 0)
        entry = self.entries.get(item_id) if isinstance(item_id, str) else None
        if entry is None:
            msg = f"Item with item_id '{item_id}' not found."
            return [self.out.error("invalid_value", msg, param="item_id", event_id=eid)]
        item = entry.item
        if item.get("role") != "assistant" or not entry.audio_ms:
            msg = "Only model output audio messages can be truncated"
            return [self.out.error("unsupported_content_type", msg, param="item_id", event_id=eid)]
        if index != 0:
            msg = f"Invalid 'content_index': {index}. The item has one content part."
            return [self.out.error("invalid_value", msg, param="content_index", event_id=eid)]
        if not isinstance(end_ms, int) or isinstance(end_ms, bool) or end_ms < 0:
            msg = f"Invalid 'audio_end_ms': {end_ms!r}. Expected a non-negative integer."
            return [self.out.error("invalid_value", msg, param="audio_end_ms", event_id=eid)]
        if end_ms > entry.audio_ms:
            msg = f"Audio content of {int(entry.audio_ms)}ms is already shorter than {end_ms}ms"
            return [self.out.error("invalid_value", msg, param="audio_end_ms", event_id=eid)]
        entry.audio_ms = float(end_ms)
        for part in item.get("content", []):
            part["transcript"] = ""
        return [
            self.out.stamp(
                {
                    "type": "conversation.item.truncated",
                    "item_id": item_id,
                    "content_index": 0,
                    "audio_end_ms": end_ms,
                }
            )
        ]

    def delete(self, event: dict[str, Any], eid: str | None) -> list[dict[str, Any]]:
        """``conversation.item.delete``."""
        item_id = event.get("item_id")
        if not isinstance(item_id, str) or item_id not in self.entries:
            msg = f"Item with item_id '{item_id}' not found."
            return [self.out.error("invalid_value", msg, param="item_id", event_id=eid)]
        del self.entries[item_id]
        return [self.out.stamp({"type": "conversation.item.deleted", "item_id": item_id})]
