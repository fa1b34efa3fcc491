"""Silero VAD through onnxruntime: the speech probability of 32 ms windows of 16 kHz audio.

The model ships in the ``silero-vad`` wheel (installed with ``--no-deps``: no torch) as
``silero_vad/data/silero_vad.onnx``. It takes 512 new samples per call, preceded by the last
64 samples of the previous window (its context), plus a recurrent state that is carried from
call to call; ``reset()`` starts a new stream. One intra-op thread, no spinning: a Pi has
other work to do.

Example::

    model = SileroModel()
    p = model.probability(window)   # 512 float32 samples in [-1, 1]
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

RATE_HZ = 16000
WINDOW_SAMPLES = 512
CONTEXT_SAMPLES = 64
_STATE_SHAPE = (2, 1, 128)


class VadModelError(RuntimeError):
    """The VAD model cannot be loaded; the message is one line naming the file."""


def default_model_path() -> Path:
    """The ONNX model inside the installed ``silero-vad`` wheel (VadModelError if absent)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise VadModelError(
            "silero_vad is not installed (tools/setup.sh installs it: "
            "pip install --no-deps silero-vad)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise VadModelError(f"{path}: the Silero VAD model is missing from the silero_vad package")
    return path


class SileroModel:
    """See the module docstring. Not thread-safe: one stream, one thread."""

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime as ort  # the adapter's dependency, not the pure core's

        self.path = path or default_model_path()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise VadModelError(f"{self.path}: cannot load the VAD model ({exc})") from None
        self._sr = np.array(RATE_HZ, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next window starts a new one."""
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)

    def probability(self, window: np.ndarray) -> float:
        """Speech probability (0..1) of the next ``WINDOW_SAMPLES`` float32 samples."""
        if window.shape != (WINDOW_SAMPLES,):
            raise ValueError(f"a window is {WINDOW_SAMPLES} samples (got {window.shape})")
        x = np.concatenate([self._context, window.astype(np.float32, copy=False)])[None, :]
        out, self._state = self._session.run(
            None, {"input": x, "state": self._state, "sr": self._sr}
        )
        self._context = x[0, -CONTEXT_SAMPLES:]
        return float(out[0, 0])
