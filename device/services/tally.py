"""The counters that reports carry: conversations by outcome, interruptions, reconnects,
prompts, failed workers. A report-only sink; `Daemon.stats()` reads it beside the
counters the adapters keep where they happen."""

from __future__ import annotations

from collections import Counter

from device.conversation.reports import (
    ConversationEnded,
    ConversationStarted,
    Interrupted,
    PromptPlayed,
    Report,
    StateChanged,
    WorkerFailed,
)
from device.conversation.state import State


class Tally:
    def __init__(self) -> None:
        self.state = State.IDLE
        self.conversations = 0
        self.outcomes: Counter[str] = Counter()
        self.interruptions = 0
        self.reconnects = 0
        self.prompts_played = 0
        self.prompt_audio_ms = 0.0
        self.worker_failures = 0

    def report(self, t_ms: float, report: Report) -> None:
        match report:
            case StateChanged(new=new):
                self.state = new
                if new is State.RECONNECTING:
                    self.reconnects += 1
            case ConversationStarted():
                self.conversations += 1
            case ConversationEnded(outcome=outcome):
                self.outcomes[outcome.value] += 1
            case Interrupted():
                self.interruptions += 1
            case PromptPlayed(ms=ms):
                self.prompts_played += 1
                self.prompt_audio_ms += ms
            case WorkerFailed():
                self.worker_failures += 1
            case _:
                pass
