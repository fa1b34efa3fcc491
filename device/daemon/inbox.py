"""The one way into the event loop for every thread: PortAudio, gpiozero, model workers.

Adapters that run threads of their own get their callbacks from an `Inbox`, built before
them (in device/cli/serve.py, the one place that wires adapters) and handed to the daemon,
which binds it to its loop when it runs. Every method here is safe from any thread and
returns at once: it hands the message to the loop with ``loop.call_soon_threadsafe``, where
the daemon's handler (`InboxHandler`) takes it. Nothing else in the daemon may be called
from a thread.

A message that comes while no loop is bound (before ``Daemon.run`` or after it ended) is
dropped and counted in ``dropped``: no thread can reach a loop that is not running.

Example::

    inbox = Inbox()
    wake = WakeListener(detector, inbox.wake_heard)           # from the model's thread
    button = GpioButton(settings.button, inbox.button_event)  # from gpiozero's thread
    daemon = Daemon(settings, ..., inbox=inbox, wake=wake, button=button)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from device.buttons.ptt import ButtonEvent
from device.services.triggers import Trigger


class InboxHandler(Protocol):
    """What the daemon does with each message, on the loop thread."""

    def on_trigger(self, trigger: Trigger) -> None: ...

    def on_wake(self, model: str, score: float, end_sample: int) -> None: ...

    def on_local_speech(self, start_sample: int) -> None: ...

    def on_local_pause(self, pause_ms: float, expired: bool) -> None: ...

    def on_button(self, event: ButtonEvent | None) -> None: ...

    def on_device_health(self, ok: bool, message: str) -> None: ...


class Inbox:
    """Thread-safe entries into the daemon's loop (see the module docstring)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handler: InboxHandler | None = None
        self.dropped = 0

    def bind(self, loop: asyncio.AbstractEventLoop, handler: InboxHandler) -> None:
        """Called by the daemon when it starts running; ``unbind`` when it stops."""
        self._loop = loop
        self._handler = handler

    def unbind(self) -> None:
        self._loop = None
        self._handler = None

    def _post(self, pick: Callable[[InboxHandler], Callable[..., None]], *args: object) -> None:
        loop, handler = self._loop, self._handler
        if loop is None or handler is None:
            self.dropped += 1
            return
        try:
            loop.call_soon_threadsafe(pick(handler), *args)
        except RuntimeError:  # the loop closed between the check and the call
            self.dropped += 1

    def trigger(self, trigger: Trigger) -> None:
        """Start, interrupt or end a conversation (a signal, a service, start-up)."""
        self._post(lambda h: h.on_trigger, trigger)

    def wake_heard(self, model: str, score: float, end_sample: int) -> None:
        """The wake phrase ended at ``end_sample`` of the 16 kHz stream."""
        self._post(lambda h: h.on_wake, model, score, end_sample)

    def local_speech(self, start_sample: int) -> None:
        """The local speech detector heard a caller over the reply from ``start_sample``."""
        self._post(lambda h: h.on_local_speech, start_sample)

    def local_pause(self, pause_ms: float, expired: bool) -> None:
        """A suspected caller paused the reply for ``pause_ms`` and it went on."""
        self._post(lambda h: h.on_local_pause, pause_ms, expired)

    def button_event(self, event: ButtonEvent, now_ms: float) -> None:
        """A press, hold or release of the talk button (gpiozero's thread)."""
        self._post(lambda h: h.on_button, event)

    def device_health(self, ok: bool, message: str) -> None:
        """An audio device went missing or came back."""
        self._post(lambda h: h.on_device_health, ok, message)
