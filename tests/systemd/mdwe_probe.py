"""Run the daemon's native libraries under MemoryDenyWriteExecute=yes, as systemd sets it.

A script (run by tests/systemd/test_mdwe.py in a child process, never imported): it
installs the seccomp filter systemd installs for MemoryDenyWriteExecute=yes (systemd's
seccomp_memory_deny_write_execute: EPERM for mmap with PROT_WRITE|PROT_EXEC, mprotect and
pkey_mprotect with PROT_EXEC, shmat with SHM_EXEC), then imports what the daemon imports
and runs every ONNX model in the models folder. An executable-stack library fails its
import here exactly as under systemd ("cannot enable executable stack"). Prints one JSON
object: {"filter": true, "checks": {name: "ok" | error}}.

Usage: python tests/systemd/mdwe_probe.py [MODELS_DIR]
       python tests/systemd/mdwe_probe.py --load LIBRARY.so   (the control)
"""

from __future__ import annotations

import ctypes
import json
import mmap
import platform
import struct
import sys
from pathlib import Path

# per machine: (AUDIT_ARCH, mmap, mprotect, pkey_mprotect, shmat)
_ARCH = {
    "x86_64": (0xC000003E, 9, 10, 329, 30),
    "aarch64": (0xC00000B7, 222, 226, 288, 196),
}
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
RET_ALLOW, RET_EPERM = 0x7FFF0000, 0x00050000 | 1
LD_ABS_W, JEQ_K, JSET_K, AND_K, RET_K = 0x20, 0x15, 0x45, 0x54, 0x06
ARG2 = 16 + 2 * 8  # seccomp_data.args[2], low 32 bits (little endian)


def _filter(arch: int, nr_mmap: int, nr_mprotect: int, nr_pkey: int, nr_shmat: int) -> bytes:
    prog = [
        (LD_ABS_W, 0, 0, 4),  # arch
        (JEQ_K, 1, 0, arch),
        (RET_K, 0, 0, RET_ALLOW),
        (LD_ABS_W, 0, 0, 0),  # nr
        (JEQ_K, 4, 0, nr_mmap),  # -> 8
        (JEQ_K, 7, 0, nr_mprotect),  # -> 12
        (JEQ_K, 6, 0, nr_pkey),  # -> 12
        (JEQ_K, 8, 0, nr_shmat),  # -> 15
        (RET_K, 0, 0, RET_ALLOW),
        # 8: mmap: refuse write and exec together
        (LD_ABS_W, 0, 0, ARG2),
        (AND_K, 0, 0, PROT_WRITE | PROT_EXEC),
        (JEQ_K, 8, 0, PROT_WRITE | PROT_EXEC),  # -> deny
        (RET_K, 0, 0, RET_ALLOW),
        # 12: mprotect / pkey_mprotect: refuse exec
        (LD_ABS_W, 0, 0, ARG2),
        (JSET_K, 5, 0, PROT_EXEC),  # -> deny
        (RET_K, 0, 0, RET_ALLOW),
        # 15: shmat: refuse SHM_EXEC
        (LD_ABS_W, 0, 0, ARG2),
        (JSET_K, 2, 0, SHM_EXEC),  # -> deny
        (RET_K, 0, 0, RET_ALLOW),
        (RET_K, 0, 0, RET_ALLOW),
        # deny
        (RET_K, 0, 0, RET_EPERM),
    ]
    return b"".join(struct.pack("=HBBI", *ins) for ins in prog)


def install_filter() -> None:
    arch = _ARCH[platform.machine()]
    code = _filter(*arch)
    buf = ctypes.create_string_buffer(code)

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Prog(len(code) // 8, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


def filter_works() -> bool:
    """A write+exec anonymous mapping must now be refused."""
    try:
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except PermissionError:
        return True
    return False


def _check(checks: dict[str, str], name: str, fn: object) -> None:
    try:
        fn()  # type: ignore[operator]
        checks[name] = "ok"
    except Exception as exc:  # the report names it; the test fails on anything but ok
        checks[name] = f"{type(exc).__name__}: {exc}"


def run_models(models_dir: Path) -> None:
    import numpy as np
    import onnxruntime as ort

    found = sorted(models_dir.glob("*.onnx"))
    if not found:
        raise FileNotFoundError(f"no .onnx models in {models_dir}")
    for path in found:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feeds = {}
        for arg in session.get_inputs():
            shape = [d if isinstance(d, int) and d > 0 else 1 for d in arg.shape]
            if arg.type == "tensor(int64)":
                feeds[arg.name] = np.full(shape, 16000, dtype=np.int64)
            else:
                feeds[arg.name] = np.zeros(shape, dtype=np.float32)
        if path.stem.startswith("melspectrogram"):
            feeds = {session.get_inputs()[0].name: np.zeros((1, 1280), dtype=np.float32)}
        elif "input" in feeds:  # silero_vad: 512 samples at 16 kHz
            feeds["input"] = np.zeros((1, 512), dtype=np.float32)
            if "sr" in feeds:
                feeds["sr"] = np.array(16000, dtype=np.int64)
        session.run(None, feeds)


def main(argv: list[str]) -> int:
    checks: dict[str, str] = {}
    if len(argv) > 2 and argv[1] == "--load":  # the control: load one library, nothing else
        install_filter()
        _check(checks, "load", lambda: ctypes.CDLL(argv[2]))
        print(json.dumps({"filter": filter_works(), "checks": checks}))
        return 0
    models_dir = Path(argv[1]) if len(argv) > 1 else None
    install_filter()
    _check(checks, "numpy", lambda: __import__("numpy").fft.rfft(__import__("numpy").ones(512)))
    _check(checks, "soxr", lambda: __import__("soxr").resample([0.0] * 480, 48000, 16000))
    _check(checks, "onnxruntime import", lambda: __import__("onnxruntime"))
    if models_dir is not None:
        _check(checks, "onnx models", lambda: run_models(models_dir))
    _check(checks, "pyaudio", lambda: __import__("pyaudio").PyAudio().terminate())
    _check(checks, "ssl", lambda: __import__("ssl").create_default_context())
    _check(checks, "websockets", lambda: __import__("websockets.asyncio.client"))
    _check(checks, "httpx", lambda: __import__("httpx"))
    _check(checks, "gpiozero", lambda: __import__("gpiozero"))
    _check(checks, "yaml", lambda: __import__("yaml").safe_load("a: 1"))
    _check(checks, "ctypes callback", lambda: ctypes.CFUNCTYPE(ctypes.c_int)(lambda: 0)())
    _check(checks, "device cli", lambda: __import__("device.cli.main"))
    print(json.dumps({"filter": filter_works(), "checks": checks}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
