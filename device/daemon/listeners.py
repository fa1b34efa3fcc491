"""What the audio path needs of the threaded listeners on the 16 kHz fan-out: the wake word
(device/wake/listener.py `WakeListener`) and the local speech detector
(device/vad/listener.py `VadListener`). Both run their models on threads of their own and
call back through the daemon's `Inbox`."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from device.vad.listener import Pausable


class WakeWord(Protocol):
    """What the audio path needs of the wake word (device/wake/listener.py)."""

    def start(self) -> None: ...

    def consumer(self, samples: np.ndarray) -> None: ...

    def wants_early_look(self) -> bool: ...

    def models_idle(self) -> bool: ...

    def close(self, timeout_s: float = 2.0) -> bool: ...


class LocalVad(Protocol):
    """What the audio path needs of the local speech detector (device/vad/listener.py)."""

    @property
    def active(self) -> bool: ...

    def consumer(self, samples: np.ndarray) -> None: ...

    def start(self, playback: Pausable | None = None, from_sample: int | None = None) -> None: ...

    def stop(self) -> None: ...

    def close(self, timeout_s: float = 2.0) -> None: ...
