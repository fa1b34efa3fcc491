"""Is the room quiet? Decides, per 80 ms frame, whether the wake models must run (pure).

The level of each frame (speech band, dBFS) is compared with the noise floor the noise
gate's tracker follows (a low percentile of the last seconds). A frame is *loud* when it is
``open_db`` above the floor and above ``min_dbfs``. The models must run on a loud frame and
for ``window_frames`` frames after the last one, so that the feature window the models see
(about 0.8 s of audio) holds only quiet audio before they stop: what they then would have
computed is what they computed last.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from device.audio.gate import NoiseGate, speech_level_db
from device.audio.settings import GateSettings


class QuietTracker:
    """``update(frame) -> bool``: True when the models must run on this frame."""

    def __init__(
        self,
        frame_ms: int,
        window_frames: int,
        open_db: float = 6.0,
        min_dbfs: float = -70.0,
        floor_window_s: float = 4.0,
        rate_hz: int = 16000,
    ) -> None:
        self.rate_hz = rate_hz
        settings = GateSettings(
            open_db=open_db,
            close_db=open_db,
            min_open_dbfs=min_dbfs,
            attack_ms=0,
            hangover_ms=0,
            floor_window_s=floor_window_s,
        )
        self._gate = NoiseGate(settings, block_ms=frame_ms)
        self.window_frames = window_frames
        self.quiet_frames = window_frames + 1  # no loud frame yet

    @property
    def level_db(self) -> float:
        return self._gate.level_db

    @property
    def floor_db(self) -> float:
        return self._gate.floor_db

    def update(self, frame: npt.NDArray[np.int16]) -> bool:
        loud = self._gate.update(speech_level_db(frame, self.rate_hz))
        if loud:
            self.quiet_frames = 0
        else:
            self.quiet_frames += 1
        return self.quiet_frames <= self.window_frames
