"""A plain websockets client for driving the emulator in tests, plus test audio."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.helpers import KEY
from tools.realtime_emulator import Emulator

MS = 48  # bytes of PCM16 mono 24 kHz per ms


def silence(ms: int) -> bytes:
    return bytes(ms * MS)


def tone(ms: int, amplitude: int = 8000, hz: float = 300.0) -> bytes:
    t = np.arange(ms * 24) / 24000
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def espeak(text: str, tmp: Path) -> bytes:
    """``text`` spoken by espeak-ng, as PCM16 mono 24 kHz."""
    path = tmp / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return np.asarray(soxr.resample(samples, rate, 24000), dtype="<i2").tobytes()


def pcm_of(events: list[dict[str, Any]], response_id: str | None = None) -> bytes:
    """The reply audio carried by ``response.output_audio.delta`` events."""
    return b"".join(
        base64.b64decode(e["delta"])
        for e in events
        if e["type"] == "response.output_audio.delta"
        and (response_id is None or e["response_id"] == response_id)
    )


class Client:
    """One connection; a background task reads every server frame into ``frames``."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[str] = []
        self.binary: list[bytes] = []  # binary frames, kept as they came
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    self.binary.append(frame)
                self.frames.append(frame if isinstance(frame, str) else frame.decode("latin-1"))
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._changed.set()

    def events(self) -> list[dict[str, Any]]:
        """The frames received so far that parse as JSON objects."""
        out = []
        for frame in self.frames:
            try:
                event = json.loads(frame)
            except (ValueError, RecursionError):
                continue
            if isinstance(event, dict):
                out.append(event)
        return out

    def of_type(self, type: str) -> list[dict[str, Any]]:
        return [e for e in self.events() if e.get("type") == type]

    async def until(self, type: str, n: int = 1, timeout: float = 10) -> dict[str, Any]:
        """The ``n``-th event of ``type`` received; TimeoutError (or AssertionError if the
        connection closed) when it does not come."""
        async with asyncio.timeout(timeout):
            while len(self.of_type(type)) < n:
                if self.closed.is_set():
                    raise AssertionError(f"closed before {type!r} #{n} came")
                self._changed.clear()
                await self._changed.wait()
        return self.of_type(type)[n - 1]

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event))

    async def update(self, **session: Any) -> None:
        await self.send({"type": "session.update", "session": {"type": "realtime", **session}})

    async def append(self, pcm: bytes, chunk_ms: int = 40) -> None:
        """Append audio in chunks, as a device does (faster than real time)."""
        step = chunk_ms * MS
        for i in range(0, len(pcm), step):
            audio = base64.b64encode(pcm[i : i + step]).decode("ascii")
            await self.send({"type": "input_audio_buffer.append", "audio": audio})

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


@asynccontextmanager
async def client(emu: Emulator | str, **kwargs: Any) -> AsyncIterator[Client]:
    """A connection to ``emu`` (an `Emulator` or a ws:// URL) with a bearer key."""
    url = emu if isinstance(emu, str) else emu.url
    ws = await connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}, **kwargs)
    c = Client(ws)
    try:
        yield c
    finally:
        await c.close()


TRANSCRIBE = {"audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}}}
MANUAL = {"audio": {"input": {"turn_detection": None}}}
