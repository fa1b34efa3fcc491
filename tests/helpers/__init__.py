"""What the tests share: one polling helper, the emulator's event check, test audio, and the
daemon run end to end (on WAV files, or on the `pulse` fixture's virtual devices).

Test modules import from here (and from this package's modules), never from each other nor
from a conftest.py; fixtures live in conftest.py files, which may import from here too:

- tests/helpers/engine.py: the conversation engine as a table (steps, commands, reports);
- tests/helpers/tools.py: tool settings against the job-status service;
- tests/helpers/audio.py: a live microphone's worth of silence (`LiveMic`);
- tests/helpers/systemd.py: the service manager's end of $NOTIFY_SOCKET (`NotifyReader`).

    await eventually(lambda: daemon.engine.state is State.IDLE, 5, "the daemon idle")
    async with Emulator(one_turn(), on_event=validate) as emu:
        summary = await run_daemon(settings_for(tmp_path, QUESTION), emu.url)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import io
import subprocess
import time
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from device.audio.pyaudio_io import PyAudioMic, PyAudioSpeaker
from device.audio.settings import FileInput, FileOutput, PyAudioInput, PyAudioOutput
from device.audio.wav import WavMic, WavSpeaker, read_wav
from device.cli.serve import wire_barge_in
from device.config.loader import load_settings
from device.config.settings import Settings
from device.conversation import State
from device.conversation.reports import ConversationEnded, PromptPlayed, Report, StateChanged
from device.daemon.daemon import Daemon
from device.daemon.drain import RunOptions
from device.daemon.inbox import Inbox
from device.prompts.library import PromptLibrary
from device.realtime.link import RealtimeLink
from device.services.summary import RunSummary
from device.wake.models import ResolvedModels
from device.wake.oww import HISTORY_FRAMES, OpenWakeWordDetector
from device.wake.quiet import QuietTracker
from tests.openai_schema import assert_client_event, assert_server_event
from tests.pulse import PulseServer
from tools.realtime_emulator import Emulator, Scenario

ROOT = Path(__file__).resolve().parents[2]
DEMO_AUDIO = ROOT / "tools/demo_audio"
QUESTION = DEMO_AUDIO / "question.wav"  # "What are your opening hours?", ~1.85 s
DEMO_CONFIG = ROOT / "firmware_config/examples/demo.yaml"
KEY = "test-key-not-a-secret"
ASKED = "What are your opening hours?"  # the emulator's transcript of QUESTION
ANSWER = "We open at nine."

T = TypeVar("T")

# ---- waiting ------------------------------------------------------------------------------


def _describe(condition: Callable[[], object], what: str) -> str:
    if what:
        return what
    try:  # a lambda: its line of source says what was awaited
        return inspect.getsource(condition).strip()
    except (OSError, TypeError):
        return repr(condition)


async def eventually(
    condition: Callable[[], T | None],
    timeout_s: float = 15.0,
    what: str = "",
    *,
    interval_s: float = 0.01,
    task: asyncio.Future[Any] | None = None,
    context: Callable[[], str] | None = None,
) -> T:
    """Poll ``condition()`` every ``interval_s`` until it is truthy, and return its value.

    On timeout: AssertionError naming ``what`` (or the condition's source line), followed by
    ``context()`` if given (state worth seeing in the failure). If ``task`` (a daemon's run)
    ends while waiting, what ended it is raised, or an AssertionError if it returned.
    Waits on the running loop's clock: the code under test keeps running meanwhile.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not (value := condition()):
        if task is not None and task.done():
            task.result()  # raises what killed it
            raise AssertionError(f"stopped while waiting for {_describe(condition, what)}")
        if loop.time() >= deadline:
            extra = f"\n{context()}" if context is not None else ""
            raise AssertionError(
                f"timed out after {timeout_s:g} s waiting for {_describe(condition, what)}{extra}"
            )
        await asyncio.sleep(interval_s)
    return value


def eventually_sync(
    condition: Callable[[], T | None],
    timeout_s: float = 5.0,
    what: str = "",
    *,
    interval_s: float = 0.01,
) -> T:
    """`eventually` for a test without an event loop (the code under test runs in threads)."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout_s:g} s waiting for {_describe(condition, what)}"
            )
        time.sleep(interval_s)
    return value


# ---- the emulator -------------------------------------------------------------------------


def validate(direction: str, event: dict[str, Any]) -> None:
    """The emulator's ``on_event`` in every test: each event must be a valid GA event."""
    if direction == "client":
        assert_client_event(event)
    else:
        assert_server_event(event)


def one_turn(reply: str = ANSWER, **turn: Any) -> Scenario:
    """The caller asks `ASKED` (say it with `QUESTION`); the model answers ``reply``."""
    return Scenario.from_dict({"turns": [{"user": ASKED, "reply": reply, **turn}]})


class Seen:
    """A report sink that keeps every report (what the LEDs and metrics would see)."""

    def __init__(self) -> None:
        self.reports: list[Report] = []

    def report(self, t_ms: float, report: Report) -> None:
        self.reports.append(report)

    def prompts(self) -> list[str]:
        return [r.name for r in self.reports if isinstance(r, PromptPlayed)]

    def states(self) -> list[State]:
        return [r.new for r in self.reports if isinstance(r, StateChanged)]

    def last_state(self) -> State:
        return self.states()[-1]

    def ended(self) -> list[str]:
        return [r.reason for r in self.reports if isinstance(r, ConversationEnded)]


# ---- test audio (16 kHz mono WAV files) ---------------------------------------------------


def _write_wav16k(out: Path, pcm: bytes) -> Path:
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm)
    return out


def concat_wavs(out: Path, parts: list[Path], gap_ms: int) -> Path:
    """Join 16 kHz mono WAVs with ``gap_ms`` of silence after each (a caller asking twice)."""
    pcm = b""
    for part in parts:
        data, rate, channels = read_wav(part)
        assert (rate, channels) == (16000, 1)
        pcm += data + bytes(gap_ms * 32)
    return _write_wav16k(out, pcm)


def silence_wav(tmp_path: Path, name: str, seconds: float) -> Path:
    return _write_wav16k(tmp_path / f"{name}.wav", bytes(round(seconds * 16000) * 2))


def joined_wavs(tmp_path: Path, parts: list[Path], name: str = "caller") -> Path:
    """``parts`` one after the other, in ``tmp_path/<name>.wav``."""
    return concat_wavs(tmp_path / f"{name}.wav", parts, 0)


def espeak_wav(tmp_path: Path, name: str, text: str) -> Path:
    """``text`` said by espeak-ng (en-us, 150 wpm), as a 16 kHz mono WAV."""
    raw, out = tmp_path / f"{name}.raw.wav", tmp_path / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", "-q", "-R", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)], check=True
    )
    return out


# ---- the wake word -----------------------------------------------------------------------


def make_detector(
    resolved: ResolvedModels, idle: bool = True, trigger_frames: int | None = None
) -> OpenWakeWordDetector:
    """The daemon's configuration (default threshold, idle skipping on); ``trigger_frames``
    overrides the models' setting."""
    tracker = QuietTracker(80, HISTORY_FRAMES) if idle else None
    if trigger_frames is not None:
        models = tuple(
            dataclasses.replace(m, trigger_frames=trigger_frames) for m in resolved.models
        )
        resolved = dataclasses.replace(resolved, models=models)
    return OpenWakeWordDetector.from_resolved(resolved, tracker)


# ---- the daemon on WAV files --------------------------------------------------------------


def settings_for(tmp_path: Path, question: Path, *, speed: float = 0, **rt: Any) -> Settings:
    """The demo config with ``question`` as the caller (read at ``speed``, 0: at once) and
    ``tmp_path/reply.wav`` as the speaker; the conversation starts at once, no wake word, no
    AI disclosure (its tests turn it on: test_disclosure_daemon.py, test_prompt_hold_daemon.py);
    ``rt`` changes the realtime settings."""
    base = load_settings(DEMO_CONFIG)
    audio = dataclasses.replace(
        base.audio,
        input=FileInput(path=question, speed=speed, tail_silence_ms=2000),
        output=FileOutput(path=tmp_path / "reply.wav", speed=0),
    )
    realtime = dataclasses.replace(base.realtime, **rt)
    conversation = dataclasses.replace(base.conversation, start="at_startup", disclosure=None)
    wake = dataclasses.replace(base.wake, enabled=False)
    return dataclasses.replace(
        base, audio=audio, realtime=realtime, conversation=conversation, wake=wake
    )


def live_settings(tmp_path: Path, **rt: Any) -> Settings:
    """`settings_for` with a sound card's microphone (a test's `LiveMic`: audio.py) and no
    conversation at start-up: the daemon idles until a trigger, as a kiosk does."""
    settings = settings_for(tmp_path, QUESTION, **rt)
    return dataclasses.replace(
        settings,
        audio=dataclasses.replace(settings.audio, input=PyAudioInput()),
        conversation=dataclasses.replace(settings.conversation, start="on_signal"),
    )


def connect_to(url: str, settings: Settings) -> Callable[[], Any]:
    """The daemon's ``connect``: a RealtimeLink to ``url`` with the test key."""

    async def connect() -> RealtimeLink:
        return await RealtimeLink.connect(url, settings.realtime.model, KEY, timeout_s=5)

    return connect


async def run_daemon(
    settings: Settings,
    url: str = "",
    toolbox: Any = None,
    *,
    connect: Any = None,
    prompts: PromptLibrary | None = None,
    sinks: Any = (),
    taps: Any = (),
) -> RunSummary:
    """The daemon on a file caller and speaker, against ``url`` (or ``connect``), until the
    caller's file ends and the reply is drained."""
    assert isinstance(settings.audio.input, FileInput)
    assert isinstance(settings.audio.output, FileOutput)
    daemon = Daemon(
        settings,
        mic=WavMic(settings.audio.input),
        speaker=WavSpeaker(settings.audio.output),
        connect=connect or connect_to(url, settings),
        toolbox=toolbox,
        prompts=prompts,
        options=RunOptions(exit_when_input_ends=True, drain_timeout_s=20),
        sinks=sinks,
        taps=taps,
    )
    return await daemon.run()


async def stopped(task: asyncio.Task[RunSummary], timeout_s: float = 15) -> RunSummary:
    """Wait for ``daemon.run()`` to return (after ``daemon.stop()``); if it hangs, fail
    showing where its tasks are."""
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if done:
        return task.result()
    where = io.StringIO()
    for t in asyncio.all_tasks():
        if t is not asyncio.current_task():
            print(f"-- task {t.get_name()}:", file=where)
            t.print_stack(limit=6, file=where)
    task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(task, 5)
    raise AssertionError(
        f"daemon.run() did not return within {timeout_s:g} s of stop(); tasks:\n{where.getvalue()}"
    )


# ---- the daemon on the `pulse` fixture's virtual devices ----------------------------------


def settings_for_pulse(*, retry_s: float = 3.0) -> Settings:
    """The demo config on PyAudio's default devices (the `pulse` fixture's virtual mic and
    speaker); the conversation starts at once, no AI disclosure."""
    base = load_settings(DEMO_CONFIG)
    audio = dataclasses.replace(
        base.audio,
        input=PyAudioInput(device=None, rate_hz=16000, channels=1, frame_ms=20, retry_s=retry_s),
        output=PyAudioOutput(device=None, rate_hz=48000, channels=1, buffer_ms=10),
    )
    conversation = dataclasses.replace(base.conversation, start="at_startup", disclosure=None)
    return dataclasses.replace(base, audio=audio, conversation=conversation)


class Served:
    """A daemon serving in a task (see `serving`), with what the tests look at."""

    def __init__(
        self, daemon: Daemon, task: asyncio.Task[RunSummary], replies: dict[str, bytearray]
    ) -> None:
        self.daemon = daemon
        self.task = task
        self.replies = replies  # item id -> the 24 kHz PCM the daemon handed the speaker
        self.timeline = daemon.timeline

    @property
    def summary(self) -> RunSummary:
        return self.daemon.summary

    @property
    def state(self) -> State:
        return self.daemon.engine.state

    def timeline_text(self) -> str:
        assert isinstance(self.timeline, io.StringIO)
        return self.timeline.getvalue()

    def _context(self) -> str:
        return (
            f"state {self.state.value}, summary {self.summary.to_json()}\n"
            f"timeline:\n{self.timeline_text()}"
        )

    async def until(self, condition: Callable[[], object], timeout_s: float, what: str) -> None:
        """`eventually`, failing with the daemon's state, summary and timeline, or with what
        ended the daemon if it stops meanwhile."""
        await eventually(condition, timeout_s, what, task=self.task, context=self._context)

    async def ready_to_listen(self, conversation: str = "conv-1") -> None:
        """The session is up and the mic delivered 1 s more (the gate learnt the room)."""
        pipeline = self.daemon.audio.pipeline
        before = pipeline.captured_bytes if pipeline is not None else 0
        await self.until(
            lambda: (
                self.state is State.LISTENING
                and self.daemon.engine.conversation_id == conversation
                and self.daemon.audio.pipeline is not None
                and self.daemon.audio.pipeline.captured_bytes >= before + 32000
            ),
            20,
            "the daemon listening with the mic running",
        )

    async def ask(self, pulse: PulseServer, wav: Path = QUESTION) -> None:
        """Play ``wav`` into the virtual mic, to its end."""
        played = pulse.play_into_mic(wav)
        assert await asyncio.to_thread(played.wait, 15) == 0


@contextlib.asynccontextmanager
async def serving(
    emu: Emulator, settings: Settings, *, local_vad: Any = None
) -> AsyncIterator[Served]:
    """Run a Daemon on the virtual devices (mic health forwarded as device/cli/serve.py does);
    ``local_vad`` (a VadListener) is wired as device/cli/serve.py wires it. A PyAudio mic
    never ends: the daemon is stopped on leaving."""
    inbox = Inbox()  # the adapters' threads reach the daemon through it
    assert isinstance(settings.audio.input, PyAudioInput)
    assert isinstance(settings.audio.output, PyAudioOutput)
    mic = PyAudioMic(settings.audio.input, on_health=inbox.device_health)
    speaker = PyAudioSpeaker(settings.audio.output)
    replies: dict[str, bytearray] = {}
    write = speaker.write

    def recording_write(item_id: str, pcm: bytes) -> None:  # what the daemon plays, kept
        replies.setdefault(item_id, bytearray()).extend(pcm)
        write(item_id, pcm)

    speaker.write = recording_write  # type: ignore[method-assign]
    vad_mic = wire_barge_in(settings, local_vad, speaker)  # as device/cli/serve.py does
    daemon = Daemon(
        settings,
        mic=mic,
        speaker=speaker,
        connect=connect_to(emu.url, settings),
        prompts=PromptLibrary.load(settings.conversation.prompts_dir),
        options=RunOptions(),
        timeline=io.StringIO(),
        inbox=inbox,
        local_vad=local_vad,
        vad_mic=vad_mic,
    )
    task = asyncio.create_task(daemon.run())
    served = Served(daemon, task, replies)
    try:
        yield served
    finally:
        daemon.stop()
        await stopped(task, 15)


def failed_opens(mic: PyAudioMic) -> list[BaseException]:
    """What each failed attempt to open ``mic`` raised, from now on (a retry that failed:
    the event that proves a retry happened)."""
    failures: list[BaseException] = []
    real_open = mic._open

    def counting_open(loop: asyncio.AbstractEventLoop, generation: int) -> None:
        try:
            real_open(loop, generation)
        except BaseException as exc:
            failures.append(exc)
            raise

    mic._open = counting_open  # type: ignore[method-assign]
    return failures


def answered(s: Served, turns: int = 1) -> bool:
    """The caller's turn was answered and the reply has played: listening again."""
    return (
        s.summary.turns == turns
        and len(s.summary.assistant_transcripts) == turns
        and s.state is State.LISTENING
    )
