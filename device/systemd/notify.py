"""The sd_notify protocol as data: what STATUS= says in each state, and the messages.

Pure: no clock, no socket. Times come in as arguments (``now_ms`` on the reports' clock,
``offline_since`` as the wall-clock time the caller read), and every function returns
the text to send. Sending is `SystemdService`'s job (device/systemd/service.py).

Example::

    status_text(State.IDLE, now_ms=0.0, wake_phrases=("hey_jarvis",))
    # "listening for 'hey jarvis'"
    message(ready=True, status="listening for 'hey jarvis'")
    # "READY=1\\nSTATUS=listening for 'hey jarvis'"
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from device.conversation.state import ENDED, State

STATUS_MAX_CHARS = 200
"""STATUS= is one line in `systemctl status`; longer texts are cut with an ellipsis."""

_DOING = {
    State.CONNECTING: "connecting",
    State.LISTENING: "listening",
    State.THINKING: "thinking",
    State.SPEAKING: "speaking",
    State.TOOL: "running a tool",
    State.HANDOVER: "handing over to staff",
    State.RECONNECTING: "reconnecting",
}


def phrase(label: str) -> str:
    """A wake model's label in words: ``hey_jarvis_v0.1`` -> ``hey jarvis``."""
    words = label.replace("-", "_").split("_")
    while len(words) > 1 and words[-1][:1] == "v" and words[-1][1:2].isdigit():
        words.pop()  # a version suffix such as v0.1
    return " ".join(w for w in words if w)


def waiting_text(wake_phrases: Sequence[str]) -> str:
    """What the device waits for while idle: the wake phrases, or the button."""
    if not wake_phrases:
        return "waiting for the button"
    quoted = [f"'{phrase(p)}'" for p in wake_phrases]
    if len(quoted) == 1:
        return f"listening for {quoted[0]}"
    return f"listening for {', '.join(quoted[:-1])} or {quoted[-1]}"


def duration_text(ms: float) -> str:
    """A conversation's length as an operator reads it: ``under a minute``, ``2 min``,
    ``1 h 5 min`` (whole minutes, so STATUS= changes at most once a minute)."""
    s = max(0, int(ms // 1000))
    if s < 60:
        return "under a minute"
    minutes = s // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def status_text(
    state: State,
    *,
    now_ms: float,
    ready: bool = True,
    conversation_since_ms: float | None = None,
    offline_since: dt.time | None = None,
    muted: bool = False,
    wake_phrases: Sequence[str] = (),
    error: str | None = None,
) -> str:
    """STATUS= in words for ``state`` at ``now_ms`` (the reports' clock).

    ``ready``: False until the `Ready` report (the device cannot serve yet);
    ``conversation_since_ms``: when the current conversation started (None: none runs);
    ``offline_since``: the wall-clock time the device went offline (shown as HH:MM);
    ``muted``: the operator muted the device (it wakes to nothing);
    ``error``: the last problem's code, shown in the error state.
    """
    if not ready:
        text = "starting: opening audio, loading models, connecting"
    elif muted and state in ENDED:
        text = "muted"
    elif state is State.IDLE:
        text = waiting_text(wake_phrases)
    elif state is State.OFFLINE:
        since = f" since {offline_since.strftime('%H:%M')}" if offline_since else ""
        text = f"offline{since}, retrying"
    elif state is State.ERROR:
        text = f"stopped by an error: {error}" if error else "stopped by an error"
    else:
        length = ""
        if conversation_since_ms is not None:
            length = f" ({duration_text(now_ms - conversation_since_ms)})"
        text = f"in a conversation{length}: {_DOING.get(state, state.value)}"
    return clip(text)


def clip(text: str, limit: int = STATUS_MAX_CHARS) -> str:
    """One line of at most ``limit`` characters (newlines would end the field)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def message(
    *,
    ready: bool = False,
    stopping: bool = False,
    watchdog: bool = False,
    status: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """One sd_notify datagram: ``KEY=VALUE`` lines (see sd_notify(3)).

    ``message(ready=True, status="x")`` -> ``"READY=1\\nSTATUS=x"``. Values are one line
    each (`clip` takes care of STATUS).
    """
    lines = []
    if ready:
        lines.append("READY=1")
    if stopping:
        lines.append("STOPPING=1")
    if watchdog:
        lines.append("WATCHDOG=1")
    if status is not None:
        lines.append(f"STATUS={clip(status)}")
    for key, value in (extra or {}).items():
        lines.append(f"{key}={clip(value)}")
    return "\n".join(lines)


def watchdog_interval_s(environ: Mapping[str, str], pid: int) -> float | None:
    """How often to ping: half of ``$WATCHDOG_USEC`` (as sd_watchdog_enabled(3) advises),
    or None when the watchdog is off (unset, not a positive number, or
    ``$WATCHDOG_PID`` names another process)."""
    usec = environ.get("WATCHDOG_USEC", "").strip()
    owner = environ.get("WATCHDOG_PID", "").strip()
    if owner and owner != str(pid):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2e6 if value > 0 else None
