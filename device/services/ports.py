"""The service seam: what runs beside the conversation, and what it may use of the daemon.

A `Service` (the timeline, the run summary and the log today; LEDs, the systemd notifier,
metrics, the staff page and recording next) is started by the daemon under its supervisor
and closed at exit, in reverse order, within a deadline. It never gets the daemon itself,
only its `Ports`:

- every report, through ``Service.report(t_ms, report)`` (must return at once);
- ``ports.stats()``: one typed snapshot of every counter (`Stats`);
- ``ports.health()``: a heartbeat of the pipeline a watchdog may trust (`Health`); safe to
  call from any thread, it reads only timestamps;
- ``ports.trigger(Trigger(...))``: start, interrupt or end a conversation, from any thread;
- the `Ready` report (device/conversation/reports.py), once the device can serve.

Contract for a service:

- ``report`` returns at once and does not raise (one that does is logged once and the
  others go on); slow work (a driver write, an HTTP answer) belongs in ``run``'s own task
  or a thread.
- ``run(ports)`` is a supervised worker: it runs for the daemon's life (or returns when
  the service needs no task), and one that raises is reported and restarted like any
  worker. It must not block the loop.
- ``close()`` is idempotent and finishes within `CLOSE_DEADLINE_S` (LEDs dark, sockets
  closed); the daemon cancels whatever is left after that.

Example::

    class Blinker:
        name = "blinker"
        def report(self, t_ms, report): self.last = report
        async def run(self, ports): ...     # its animation loop, reading ports.health()
        async def close(self): ...          # lights off

    daemon = Daemon(settings, ..., services=[Blinker()])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from device.conversation.reports import Report
from device.services.triggers import Trigger

CLOSE_DEADLINE_S = 3.0
"""How long every service together may take to close at exit."""

MIC_STALE_MS = 2000.0
"""`Health.ok`: the last microphone frame is older than this: the audio path is stuck."""

LOOP_STALE_MS = 2000.0
"""`Health.ok`: the loop probe has not run for this long: the event loop is blocked."""


@dataclass(frozen=True, slots=True)
class Stats:
    """Every counter of the daemon since it started, read where each one lives."""

    state: str  # the conversation engine's state (device/conversation/state.py), by value
    muted: bool = False  # the microphone is muted (a switch, SIGUSR2, a service)
    conversations: int = 0  # started
    outcomes: Mapping[str, int] = field(default_factory=dict)  # ended, by Outcome value
    interruptions: int = 0  # replies cut by a caller (any source)
    reconnects: int = 0  # mid-conversation reconnects asked for
    prompts_played: int = 0
    prompt_audio_ms: float = 0.0
    reply_audio_ms: float = 0.0  # reply audio handed to the speaker
    audio_sent_chunks: int = 0  # microphone chunks put on the audio lane
    audio_dropped: int = 0  # microphone chunks the audio lane dropped (a stalled socket)
    mic_overflows: int = 0  # capture frames the microphone dropped
    speaker_underflows: int = 0  # playback ran dry while audio was due
    capture_consumer_errors: int = 0  # 16 kHz listeners (wake word, local VAD) that raised
    link_malformed: int = 0  # server frames skipped as unreadable, over every session
    sessions_opened: int = 0  # Realtime sessions set up (standby or not)
    sink_failures: int = 0  # reports a service could not take
    worker_failures: int = 0  # supervised workers that raised


@dataclass(frozen=True, slots=True)
class Health:
    """The pipeline's heartbeat: what a watchdog may trust (`ok`), and why not (`problems`).

    Ages are ms on the monotonic clock, measured when `health()` was called; ``None`` means
    the thing has not happened yet (no microphone frame since start).
    """

    mic_frame_age_ms: float | None
    loop_probe_age_ms: float  # since the loop's probe last ran (it runs every 250 ms)
    loop_lag_ms: float  # how late the probe ran last time (a busy loop)
    link_manager_alive: bool  # the standby keeper runs (True when standby is off)
    # long-lived workers by name: running, done (a file input ended), restarting, failed
    workers: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Why the pipeline is not alive, one phrase each; empty when it is."""
        out = []
        if self.mic_frame_age_ms is None:
            out.append("no microphone frame yet")
        elif self.mic_frame_age_ms > MIC_STALE_MS:
            out.append(f"no microphone frame for {self.mic_frame_age_ms / 1000:.1f} s")
        if self.loop_probe_age_ms > LOOP_STALE_MS:
            out.append(f"the event loop has not run for {self.loop_probe_age_ms / 1000:.1f} s")
        if not self.link_manager_alive:
            out.append("the link manager stopped")
        out.extend(
            f"worker {name} {state}" for name, state in self.workers.items() if state != "running"
        )
        return out

    @property
    def ok(self) -> bool:
        return not self.problems()


class Ports(Protocol):
    """What a service may use of the daemon (see the module docstring)."""

    def now_ms(self) -> float:
        """ms since the daemon started (the reports' clock)."""
        ...

    def stats(self) -> Stats: ...

    def health(self) -> Health: ...

    def trigger(self, trigger: Trigger) -> None:
        """Start, interrupt or end a conversation; safe from any thread."""
        ...


class Sink(Protocol):
    def report(self, t_ms: float, report: Report) -> None:
        """Take one report (``t_ms``: ms since the daemon started). Must not block."""
        ...


class AudioTap(Protocol):
    """The conversation's audio, for a recorder (and next round's eval bank): passed to
    `Daemon(taps=[...])`. Both are called on the loop thread and must return at once (copy
    the bytes into a buffer; write files on a thread of your own).

    ``caller_audio``: each 24 kHz PCM16 chunk exactly as uploaded to the server (the gate's
    and the echo hold's decisions made), ``t_ms`` on the reports' clock.
    ``reply_audio``: each piece of a reply as handed to the speaker, per ``item_id``; what
    the caller really heard of an item ends where an ``Interrupted`` report cut it
    (``audio_end_ms``).
    """

    def caller_audio(self, t_ms: float, pcm: bytes) -> None: ...

    def reply_audio(self, t_ms: float, item_id: str, pcm: bytes) -> None: ...


class Service(Sink, Protocol):
    """Runs beside the conversation (see the module docstring)."""

    name: str

    async def run(self, ports: Ports) -> None: ...

    async def close(self) -> None: ...
