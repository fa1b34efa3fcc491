"""onnxruntime sessions for the wake word: one thread, no spin-waiting (adapter).

onnxruntime's defaults start a thread pool per session sized to the cores, whose threads
spin-wait between runs. A kiosk runs one small model every 80 ms, so one intra-op thread
and one inter-op thread, sequential execution and ``allow_spinning = 0`` are set: the work
is done in the calling thread (the wake worker) and nothing burns CPU between frames
(tools/bench_wake.py measures 2 threads with and without spinning beside it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def session_options(threads: int = 1, spinning: bool = False) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: no warnings about unused initialisers
    # the embedding model produces denormal floats: flushing them to zero makes it about
    # 20% faster (measured; scores change by less than 1e-4)
    options.add_session_config_entry("session.set_denormal_as_zero", "1")
    flag = "1" if spinning else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", flag)
    options.add_session_config_entry("session.inter_op.allow_spinning", flag)
    return options


def load_session(path: Path, threads: int = 1, spinning: bool = False) -> Any:
    """An ``onnxruntime.InferenceSession`` of ``path`` on the CPU; ValueError names a bad file."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(
            str(path),
            sess_options=session_options(threads, spinning),
            providers=["CPUExecutionProvider"],
        )
    except Exception as exc:  # onnxruntime raises its own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: not a usable ONNX model ({first})") from exc
