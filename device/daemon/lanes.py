"""Two lanes to the link: control before audio, audio bounded.

Control commands (cancel, truncate, tool output, session update, reply requests) go out
before any queued audio, in the order given. Audio appends wait in a bounded queue: when
the socket stalls and it is full, the oldest append is dropped and counted, so memory never
grows and what is sent on recovery is the most recent speech.

Example::

    lanes = Lanes(max_audio=50)
    lanes.put_audio(AppendAudio(chunk))
    lanes.put_control(CancelReply(event_id="dev_9"))
    await lanes.next()          # -> CancelReply first, then the audio
"""

from __future__ import annotations

import asyncio
from collections import deque

from device.realtime.commands import LinkCommand


class Lanes:
    def __init__(self, max_audio: int = 50) -> None:
        self._control: deque[LinkCommand] = deque()
        self._audio: deque[LinkCommand] = deque(maxlen=max(1, max_audio))
        self._ready = asyncio.Event()
        self.dropped_audio = 0

    def put_control(self, command: LinkCommand) -> None:
        self._control.append(command)
        self._ready.set()

    def put_audio(self, command: LinkCommand) -> None:
        if len(self._audio) == self._audio.maxlen:
            self.dropped_audio += 1  # deque drops the oldest
        self._audio.append(command)
        self._ready.set()

    def clear(self) -> None:
        """Drop everything queued (the session it was meant for is gone)."""
        self._control.clear()
        self._audio.clear()
        self._ready.clear()

    @property
    def queued_audio(self) -> int:
        return len(self._audio)

    def __len__(self) -> int:
        return len(self._control) + len(self._audio)

    def pop(self) -> LinkCommand | None:
        """The next command without waiting (control first), or None."""
        if self._control:
            return self._control.popleft()
        if self._audio:
            return self._audio.popleft()
        self._ready.clear()
        return None

    async def next(self) -> LinkCommand:
        """Wait for the next command: control first, then the oldest audio."""
        while True:
            command = self.pop()
            if command is not None:
                return command
            await self._ready.wait()
