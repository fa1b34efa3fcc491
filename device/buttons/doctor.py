"""`voice-kiosk doctor --button SECONDS`: press, hold and release shown as they happen.

Opens the configured button through gpiozero (the pin factory it picks: lgpio on a Pi 5,
``GPIOZERO_PIN_FACTORY=mock`` on a laptop, where nothing is pressed and the check simply
runs out its time) and prints each edge with what push-to-talk would do.
"""

from __future__ import annotations

import queue
import time
from typing import Any, TextIO

from device.buttons.gpio import ButtonUnavailable, GpioButton
from device.buttons.ptt import ButtonEvent, PttAction, PushToTalk
from device.buttons.settings import ButtonSettings


def _names(actions: list[PttAction]) -> list[str]:
    out = []
    for a in actions:
        name = type(a).__name__
        out.append(f"{name}(commit={a.commit})" if hasattr(a, "commit") else name)
    return out


def button_doctor(
    settings: ButtonSettings,
    seconds: float,
    out: TextIO,
    live: bool,
    report: dict[str, Any],
    pin_factory: Any = None,
) -> bool:
    """Watch the button for ``seconds``; True when it could be opened."""
    section: dict[str, Any] = {"pin": settings.pin, "mode": settings.mode, "events": []}
    report["button"] = section
    events: queue.Queue[tuple[ButtonEvent, float]] = queue.Queue()
    try:
        button = GpioButton(settings, lambda e, t: events.put((e, t)), pin_factory=pin_factory)
    except ButtonUnavailable as exc:
        section["problem"] = str(exc)
        return False
    section["pin_factory"] = type(button.pin.factory).__name__ if button.pin else "?"
    ptt = PushToTalk(
        settings.mode,
        min_press_ms=settings.min_press_ms,
        min_talk_ms=settings.min_talk_ms,
        long_press_ms=settings.long_press_s * 1000.0,
    )
    if live:
        out.write(
            f"button on GPIO{settings.pin} ({section['pin_factory']}, {settings.mode} mode):"
            f" press it within {seconds:g} s\n"
        )
    start = time.monotonic() * 1000.0
    deadline = start + seconds * 1000.0
    pressed_at: float | None = None
    try:
        while (now := time.monotonic() * 1000.0) < deadline:
            due = min(deadline, ptt.deadline_ms if ptt.deadline_ms is not None else deadline)
            try:
                event, t_ms = events.get(timeout=max(0.0, due - now) / 1000.0)
            except queue.Empty:
                t_ms = time.monotonic() * 1000.0
                actions, label = ptt.tick(t_ms), ""
            else:
                actions = ptt.handle(event, t_ms)
                label = event.value
                if event is ButtonEvent.PRESSED:
                    pressed_at = t_ms
                elif event is ButtonEvent.RELEASED and pressed_at is not None:
                    label += f" after {(t_ms - pressed_at) / 1000:.2f} s"
            if not label and not actions:
                continue
            at_s, names = round((t_ms - start) / 1000.0, 2), _names(actions)
            section["events"].append({"at_s": at_s, "event": label or "tick", "actions": names})
            if live:
                arrow = f"  -> {', '.join(names)}" if names else ""
                out.write(f"  {at_s:6.2f} s  {label or 'tick'}{arrow}\n")
                out.flush()
    finally:
        button.close()
    section["presses"] = sum(1 for e in section["events"] if e["event"] == "pressed")
    return True


def print_summary(report: dict[str, Any], out: TextIO) -> None:
    b = report["button"]
    if "problem" in b:
        out.write(f"  problem: {b['problem']}\n")
        return
    out.write(f"button on GPIO{b['pin']}: {b['presses']} press(es)\n")
