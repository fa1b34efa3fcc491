"""A private PulseAudio daemon with a virtual microphone and speaker (ARCHITECTURE.md recipe).

The daemon runs in its own temporary XDG_RUNTIME_DIR; ``start()`` points this process's
environment at it (PULSE_SERVER, PULSE_SOURCE=mic, PULSE_SINK=spk), so PyAudio's "pulse" /
"default" devices record the virtual mic and play to the virtual speaker. ``stop()`` ends
the daemon by its pid and restores the environment.

- ``play_into_mic(wav)``: ``paplay -d vmic`` (what the mic hears);
- ``record_speaker(wav)``: ``parecord -d spk.monitor`` (what the speaker plays);
- ``unplug_mic()`` / ``replug_mic()``: unload / load the remap source named ``mic``;
- ``add_echo(gain_db)``: the mic hears the speaker (``module-loopback`` from spk.monitor into
  vmic at ``gain_db``), as on a kiosk; ``add_echo_cancel()``: a WebRTC ``module-echo-cancel``
  over it (play to ``ec_spk``, record ``ec_mic``); ``use(source=, sink=)`` points this
  process's PortAudio at other devices; ``remove_echo()`` undoes both.

Example::

    with PulseServer() as pulse:
        pulse.play_into_mic(Path("question.wav")).wait()
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np

MIC_SINK = "vmic"
MIC_SOURCE = "mic"
SPEAKER_SINK = "spk"
MIC_RATE_HZ = 16000
SPEAKER_RATE_HZ = 24000
REMAP_ARGS = ["module-remap-source", f"master={MIC_SINK}.monitor", f"source_name={MIC_SOURCE}"]
EC_SOURCE = "ec_mic"
EC_SINK = "ec_spk"
ECHO_LATENCY_MS = 20
HW_SINK = "hwmic"  # a mic array that cancels echo itself: what its processed channel gives
HW_SOURCE = "hw_mic"
ROOM_SINK = "room"  # plays into both microphones (a caller in the room)


class PulseError(Exception):
    pass


def wait_until(condition: object, timeout_s: float, what: str, poll_s: float = 0.02) -> None:
    """Poll ``condition()`` until true; PulseError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise PulseError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(poll_s)


def read_wav_mono(path: Path) -> tuple[np.ndarray, int]:
    """(int16 samples of the first channel, rate) of a PCM16 WAV."""
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.reshape(-1, w.getnchannels())[:, 0], w.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate_hz: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(samples.astype("<i2").tobytes())


def sound_span_s(samples: np.ndarray, rate_hz: int, threshold: int = 300) -> float:
    """Seconds from the first to the last sample louder than ``threshold``."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    return 0.0 if len(loud) == 0 else (loud[-1] - loud[0] + 1) / rate_hz


class PulseServer:
    """See the module docstring."""

    ENV_KEYS = ("PULSE_SERVER", "PULSE_SOURCE", "PULSE_SINK", "XDG_RUNTIME_DIR")

    def __init__(self) -> None:
        self.dir: Path | None = None
        self.pid: int | None = None
        self._saved_env: dict[str, str | None] = {}
        self.env: dict[str, str] = {}

    def __enter__(self) -> PulseServer:
        self.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        exe = shutil.which("pulseaudio")
        if exe is None:
            raise PulseError(
                "pulseaudio is not installed (apt install pulseaudio pulseaudio-utils)"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="vk-pulse-"))
        self.dir.chmod(0o700)
        env = dict(os.environ, XDG_RUNTIME_DIR=str(self.dir), HOME=str(self.dir))
        env.pop("PULSE_SERVER", None)
        cmd = [
            exe,
            "--daemonize=yes",
            "--exit-idle-time=-1",
            "--use-pid-file=yes",
            f"--log-target=file:{self.dir}/pulse.log",
            "-n",
            "--load=module-native-protocol-unix auth-anonymous=1",
            f"--load=module-null-sink sink_name={MIC_SINK} rate={MIC_RATE_HZ} channels=1"
            " format=s16le",
            "--load=" + " ".join(REMAP_ARGS),
            f"--load=module-null-sink sink_name={SPEAKER_SINK} rate={SPEAKER_RATE_HZ}"
            " channels=1 format=s16le",
        ]
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=20)
        pid_file = self.dir / "pulse" / "pid"
        if result.returncode != 0 or not pid_file.exists():
            log = self.dir / "pulse.log"
            why = (log.read_text() if log.exists() else "") + result.stderr
            raise PulseError(f"pulseaudio did not start: {why.strip()[-500:]}")
        self.pid = int(pid_file.read_text().split()[0])
        self.env = {
            "XDG_RUNTIME_DIR": str(self.dir),
            "PULSE_SERVER": f"unix:{self.dir}/pulse/native",
            "PULSE_SOURCE": MIC_SOURCE,
            "PULSE_SINK": SPEAKER_SINK,
        }
        self._saved_env = {k: os.environ.get(k) for k in self.ENV_KEYS}
        os.environ.update(self.env)
        self.pactl("set-default-source", MIC_SOURCE)
        self.pactl("set-default-sink", SPEAKER_SINK)

    def stop(self) -> None:
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                deadline = time.monotonic() + 5
                while Path(f"/proc/{self.pid}").exists() and time.monotonic() < deadline:
                    time.sleep(0.02)
                if Path(f"/proc/{self.pid}").exists():
                    os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # -- tools ----------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        return dict(os.environ, **self.env)

    def pactl(self, *args: str) -> str:
        result = subprocess.run(
            ["pactl", *args], env=self._env(), capture_output=True, text=True, timeout=10
        )
        if result.returncode != 0:
            raise PulseError(f"pactl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def play_into_mic(self, wav: Path) -> subprocess.Popen[bytes]:
        """Start ``paplay`` of ``wav`` into the virtual mic; wait() on it for the end."""
        return subprocess.Popen(["paplay", "-d", MIC_SINK, str(wav)], env=self._env())

    def record_speaker(self, wav: Path) -> subprocess.Popen[bytes]:
        """Start recording the virtual speaker to ``wav``; returns once recording runs.

        Stop it with ``stop_recording(proc)`` (SIGINT, so the WAV header is finished).
        """
        before = self.source_outputs()
        proc = subprocess.Popen(
            [
                "parecord",
                "-d",
                f"{SPEAKER_SINK}.monitor",
                "--rate",
                str(SPEAKER_RATE_HZ),
                "--channels",
                "1",
                "--format",
                "s16le",
                "--file-format=wav",
                "--latency-msec=10",
                str(wav),
            ],
            env=self._env(),
        )
        wait_until(lambda: self.source_outputs() > before, 10, "parecord to start recording")
        return proc

    @staticmethod
    def stop_recording(proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)

    def source_outputs(self) -> int:
        return len(self.pactl("list", "short", "source-outputs").splitlines())

    def module_id(self, name: str) -> str | None:
        for line in self.pactl("list", "short", "modules").splitlines():
            parts = line.split("\t")
            if len(parts) > 1 and parts[1] == name:
                return parts[0]
        return None

    def unplug_mic(self) -> None:
        """Unload the virtual mic, and end this process's recording streams, as an unplug does.

        PulseAudio (14 and later) moves the recording streams of a source that goes away to
        the fallback source (here a sink monitor): PortAudio would go on recording silence
        after a short gap. Ending this process's streams (``pacmd kill-source-output``; pactl
        has no such verb) leaves the mic with no device until ``replug_mic()``, since
        PULSE_SOURCE names the missing source. Other clients (parecord) are left alone.
        """
        module = self.module_id("module-remap-source")
        if module is None:
            raise PulseError("the virtual mic is not plugged in")
        if self.module_id("module-cli-protocol-unix") is None:
            self.pactl("load-module", "module-cli-protocol-unix")
        self.pactl("unload-module", module)
        for output in json.loads(self.pactl("--format=json", "list", "source-outputs")):
            if output.get("properties", {}).get("application.process.id") == str(os.getpid()):
                subprocess.run(
                    ["pacmd", "kill-source-output", str(output["index"])],
                    env=self._env(),
                    check=True,
                    capture_output=True,
                    timeout=10,
                )

    def replug_mic(self) -> None:
        self.pactl("load-module", *REMAP_ARGS)

    # -- the echo path --------------------------------------------------------------------

    def add_echo(self, gain_db: float, sink: str = MIC_SINK) -> None:
        """The speaker's sound reaches the mic ``gain_db`` below what is played (loopback)."""
        module = self.pactl(
            "load-module",
            "module-loopback",
            f"source={SPEAKER_SINK}.monitor",
            f"sink={sink}",
            f"latency_msec={ECHO_LATENCY_MS}",
            "source_dont_move=true",
            "sink_dont_move=true",
        ).strip()
        inputs = json.loads(self.pactl("--format=json", "list", "sink-inputs"))
        ours = [i["index"] for i in inputs if str(i.get("owner_module")) == module]
        if not ours:
            raise PulseError("the echo loopback has no stream")
        self.pactl("set-sink-input-volume", str(ours[0]), f"{gain_db:.1f}dB")

    def add_hardware_mic(self, residual_gain_db: float) -> None:
        """A second mic, ``hw_mic``, as a mic array's processed channel: the room (``room``
        sink: vmic and hwmic at once) reaches it in full, the speaker only as the residual
        its own canceller leaves (``residual_gain_db`` below what is played)."""
        self.pactl(
            "load-module",
            "module-null-sink",
            f"sink_name={HW_SINK}",
            f"rate={MIC_RATE_HZ}",
            "channels=1",
            "format=s16le",
        )
        self.pactl(
            "load-module",
            "module-remap-source",
            f"master={HW_SINK}.monitor",
            f"source_name={HW_SOURCE}",
        )
        self.add_echo(residual_gain_db, HW_SINK)
        self.pactl(
            "load-module",
            "module-combine-sink",
            f"sink_name={ROOM_SINK}",
            f"slaves={MIC_SINK},{HW_SINK}",
            f"rate={MIC_RATE_HZ}",
            "channels=1",
        )

    def play_into_room(self, wav: Path) -> subprocess.Popen[bytes]:
        """``paplay`` into every microphone (``room`` after ``add_hardware_mic``, else vmic)."""
        sink = ROOM_SINK if self.module_id("module-combine-sink") is not None else MIC_SINK
        return subprocess.Popen(["paplay", "-d", sink, str(wav)], env=self._env())

    def add_echo_cancel(self, *extra: str) -> None:
        """WebRTC echo cancellation over the echo path: play to ec_spk, record ec_mic."""
        self.pactl(
            "load-module",
            "module-echo-cancel",
            f"source_master={MIC_SOURCE}",
            f"sink_master={SPEAKER_SINK}",
            f"source_name={EC_SOURCE}",
            f"sink_name={EC_SINK}",
            "aec_method=webrtc",
            "use_master_format=1",
            *extra,
        )

    def remove_echo(self) -> None:
        """Undo ``add_echo``, ``add_echo_cancel`` and ``add_hardware_mic``."""
        for name in ("module-combine-sink", "module-echo-cancel", "module-loopback"):
            while (module := self.module_id(name)) is not None:
                self.pactl("unload-module", module)
        # the canceller's gain control turns the raw mic down: put it back
        self.pactl("set-source-volume", MIC_SOURCE, "100%")
        for arg in (f"source_name={HW_SOURCE}", f"sink_name={HW_SINK}"):
            for line in self.pactl("list", "short", "modules").splitlines():
                if arg in line.split("\t")[2:3][0].split() if line.count("\t") >= 2 else []:
                    self.pactl("unload-module", line.split("\t")[0])

    @contextlib.contextmanager
    def use(self, *, source: str = MIC_SOURCE, sink: str = SPEAKER_SINK) -> Iterator[None]:
        """PortAudio streams opened meanwhile record ``source`` and play to ``sink``."""
        saved = {k: os.environ.get(k) for k in ("PULSE_SOURCE", "PULSE_SINK")}
        os.environ.update(PULSE_SOURCE=source, PULSE_SINK=sink)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def record_source(
        self, wav: Path, source: str, rate_hz: int = MIC_RATE_HZ
    ) -> subprocess.Popen[bytes]:
        """Like ``record_speaker`` for any source (``vmic.monitor``: what the mic hears)."""
        before = self.source_outputs()
        proc = subprocess.Popen(
            [
                "parecord",
                "-d",
                source,
                "--rate",
                str(rate_hz),
                "--channels",
                "1",
                "--format",
                "s16le",
                "--file-format=wav",
                "--latency-msec=10",
                str(wav),
            ],
            env=self._env(),
        )
        wait_until(lambda: self.source_outputs() > before, 10, f"parecord to record {source}")
        return proc


def alsa_pulse_pcm(config_home: Path, name: str, source: str) -> None:
    """An ALSA pcm ``name`` on the PulseAudio ``source`` (the README's asound.conf snippet
    for ``audio.echo.raw_input``), in ``config_home``/alsa/asoundrc: set XDG_CONFIG_HOME to
    ``config_home`` and PortAudio lists it as a device of that name."""
    conf = config_home / "alsa" / "asoundrc"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(
        f'pcm.{name} {{\n  type pulse\n  device "{source}"\n'
        '  hint { show on description "Kiosk mic, not echo-cancelled" }\n}\n'
    )
