"""`voice-kiosk run`: settings checked, adapters built, the daemon served.

The one place that builds real adapters (sound cards, models, GPIO, the Realtime link,
the tool box) and wires their thread callbacks to the daemon's `Inbox`
(device/daemon/inbox.py): every callback is an Inbox method, built here before the
adapters that call it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from device.daemon.inbox import Inbox

if TYPE_CHECKING:  # the adapters are imported when `run` builds them, not at parse time
    from device.audio.pyaudio_io import PyAudioMic
    from device.audio.seam import AudioInput, AudioOutput
    from device.buttons.gpio import GpioButton
    from device.buttons.mute_switch import MuteSwitch
    from device.config.settings import Settings
    from device.services.ports import AudioTap, Service
    from device.systemd.journal import JournalContext
    from device.vad.listener import VadListener
    from device.wake.listener import WakeListener

log = logging.getLogger("device")

EXIT_FAILED = 1  # a worker kept failing: the daemon gave up (systemd restarts it)
EXIT_CONFIG = 2  # bad config or credentials: fix the file, then start again


def _setup_logging(level: str) -> JournalContext | None:
    """journald with ``VK_*`` fields under systemd (the returned context is a report sink
    that stamps every line with the state and the conversation), else stderr (None)."""
    from device.systemd.journal import use_journal_if_under_systemd

    journal = use_journal_if_under_systemd(level)
    if journal is None:
        logging.basicConfig(
            level=getattr(logging, level.upper(), logging.INFO),
            format="voice-kiosk: %(levelname)s: %(message)s",
            stream=sys.stderr,
        )
    # library chatter (websockets frames, httpx requests) stays out of the operator's log
    for noisy in ("websockets", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return journal


def _parse_sets(values: list[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"voice-kiosk: --set {item!r}: expected KEY.PATH=VALUE")
        overrides[key.strip()] = value
    return overrides


def _load(args: argparse.Namespace) -> Settings:
    """The settings `run` starts with, or exit 2 with one line per problem.

    The same checks as `check-config` (``startup_problems``: files, folders, WAVs, JSON
    schemas), run before any device or network is opened; after ``--set`` overrides the
    checks between sections run again on the result.
    """
    from device.config.loader import ConfigError, apply_overrides, load_settings, startup_problems

    path = Path(args.config)
    try:
        settings = load_settings(path)
        overrides = _parse_sets(args.set or [])
        if args.realtime_url:
            overrides["realtime.url"] = args.realtime_url
        if overrides:
            settings = apply_overrides(settings, overrides)
        problems = startup_problems(settings, path, pure=bool(overrides))
    except ConfigError as exc:
        problems = exc.problems
    except Exception as exc:  # a bug must still be one line, never a traceback
        problems = [f"{path}: cannot check this file ({type(exc).__name__})"]
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        raise SystemExit(EXIT_CONFIG)
    return settings


async def serve(args: argparse.Namespace) -> int:
    """Run the daemon until it stops; the process's exit code."""
    from device.audio.settings import FileInput, FileOutput
    from device.audio.wav import AudioFileError, WavMic, WavSpeaker
    from device.config.loader import ConfigError
    from device.config.secrets import CredentialError, api_key_source, find_api_key, read_credential
    from device.daemon.daemon import Daemon
    from device.daemon.drain import RunOptions
    from device.prompts.library import PromptLibrary
    from device.realtime.link import RealtimeLink
    from device.tools.toolbox import Toolbox, credentials_needed

    settings = _load(args)
    journal = _setup_logging(settings.logging.level)
    warn_advice(settings)
    try:
        api_key = find_api_key(settings.realtime.api_key_file, os.environ)
    except CredentialError as exc:
        print(f"voice-kiosk: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    tools = settings.tools

    def credential(name: str) -> str:
        return read_credential(name, os.environ, tools.credential_dir).reveal()

    try:
        toolbox = Toolbox.from_settings(
            tools,
            credentials=credential,
            audit_path=tools.audit_log,
            device_name=settings.device.name,
            site=settings.device.site,
        )
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    for name in credentials_needed(tools):  # a tool without its credential still answers
        try:
            credential(name)
        except CredentialError as exc:
            log.warning("tools: %s (tools using it will report a failure)", exc)

    inbox = Inbox()

    inp, outp = settings.audio.input, settings.audio.output
    try:
        mic: AudioInput
        speaker: AudioOutput
        if isinstance(inp, FileInput):
            mic = WavMic(inp)
        else:
            from device.audio.pyaudio_io import PyAudioMic

            mic = PyAudioMic(inp, on_health=inbox.device_health)
        if isinstance(outp, FileOutput):
            speaker = WavSpeaker(outp)
        else:
            from device.audio.pyaudio_io import PyAudioSpeaker

            speaker = PyAudioSpeaker(outp)
    except AudioFileError as exc:
        print(f"voice-kiosk: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    try:
        wake = _wake_listener(settings, inbox)
    except _StartupProblem as exc:
        print(f"voice-kiosk: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    local_vad = _local_vad(settings, inbox)
    vad_mic = wire_barge_in(settings, local_vad, speaker)
    if isinstance(mic, WavMic) and isinstance(speaker, WavSpeaker):
        mic.hear(speaker)  # audio.input.echo_db: the file caller hears the file speaker

    rt = settings.realtime

    async def connect() -> RealtimeLink:
        return await RealtimeLink.connect(rt.url, rt.model, api_key, timeout_s=rt.connect_timeout_s)

    daemon = Daemon(
        settings,
        mic=mic,
        speaker=speaker,
        connect=connect,
        toolbox=toolbox,
        prompts=PromptLibrary.load(settings.conversation.prompts_dir),
        options=RunOptions(exit_when_input_ends=isinstance(inp, FileInput)),
        timeline=sys.stdout,
        key_source=api_key_source(settings.realtime.api_key_file, os.environ),
        sinks=[journal] if journal is not None else [],
        services=(services := _services(settings, timeline=sys.stdout, config=Path(args.config))),
        taps=_taps(services),
        inbox=inbox,
        wake=wake,
        local_vad=local_vad,
        button=_button(settings, inbox),
        mute_switch=_mute_switch(settings, inbox),
        vad_mic=vad_mic,
    )
    log.info("serving as %s (model %s at %s)", settings.device.name, rt.model, rt.url)
    try:
        summary = await daemon.run()
    finally:
        await toolbox.close()
    if args.summary_json:
        path = Path(args.summary_json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary.to_json(), indent=2) + "\n")
    return EXIT_FAILED if daemon.failed else 0


def warn_advice(settings: Settings) -> None:
    """What ``check-config`` notes under its OK, as warnings in the daemon's log."""
    for note in settings.audio.advice():
        log.warning("%s", note)


def wire_barge_in(
    settings: Settings, vad: VadListener | None, speaker: AudioOutput
) -> PyAudioMic | None:
    """What the local speech detector ``vad`` (or None) needs of the other adapters: the
    speaker's playback as its echo reference (judged as reference mode), and with
    ``audio.echo.raw_input`` the raw mic it listens to (the daemon's ``vad_mic``). The raw
    mic is not the caller's microphone: when it is missing the daemon serves on (one log
    line, reopened like the main mic), and barge-in is the server's alone meanwhile."""
    echo = settings.audio.echo
    if vad is None:
        return None
    if echo.judged_mode == "reference":
        speaker.on_played = vad.reference  # what the device plays, to weigh the mic against
    raw = settings.audio.raw_mic()
    if raw is None:
        return None
    from device.audio.pyaudio_io import PyAudioMic

    return PyAudioMic(raw, on_health=_raw_mic_health)


def _raw_mic_health(ok: bool, message: str) -> None:
    if ok:
        log.info("barge-in mic (audio.echo.raw_input): %s", message)
    else:
        log.error(
            "barge-in mic (audio.echo.raw_input): %s; barge-in is left to the server", message
        )


class _StartupProblem(Exception):
    """A part the config asks for cannot be built; one line naming it."""


def _wake_listener(settings: Settings, inbox: Inbox) -> WakeListener | None:
    """The wake word the config asks for (None: off); a missing model is a start-up
    problem. Its detections come from the model's thread through the inbox."""
    if not settings.wake.enabled:
        return None
    from device.wake.listener import WakeListener
    from device.wake.models import ModelNotFound
    from device.wake.oww import detector_from_settings

    try:
        detector = detector_from_settings(settings.wake)
    except (ModelNotFound, ValueError, OSError) as exc:
        raise _StartupProblem(f"wake: {exc}") from None
    return WakeListener(detector, inbox.wake_heard, queue_frames=settings.wake.queue_frames)


def _local_vad(settings: Settings, inbox: Inbox) -> VadListener | None:
    """The local speech detector for barge-in (None: off, or it cannot load: one line)."""
    barge_in = settings.audio.barge_in
    if not barge_in.local_vad or settings.audio.echo.mode == "half_duplex":
        return None
    from device.vad.listener import VadListener

    try:
        return VadListener(
            barge_in,
            settings.audio.echo,
            on_speech=inbox.local_speech,
            on_pause=inbox.local_pause,
        )
    except (OSError, ValueError, RuntimeError) as exc:
        log.error("barge-in: the local speech detector is off: %s", exc)
        return None


def _button(settings: Settings, inbox: Inbox) -> GpioButton | None:
    """The talk button (None: off, or it cannot be read: one error line, served without)."""
    if not settings.button.enabled:
        return None
    from device.buttons.gpio import ButtonUnavailable, GpioButton

    try:
        return GpioButton(settings.button, inbox.button_event)
    except ButtonUnavailable as exc:
        log.error("%s; serving without the button", exc)
        return None


def _mute_switch(settings: Settings, inbox: Inbox) -> MuteSwitch | None:
    """The mute switch (None: off, or it cannot be read: one error line, served without)."""
    if not settings.mute.enabled:
        return None
    from device.buttons.gpio import ButtonUnavailable
    from device.buttons.mute_switch import MuteSwitch
    from device.services.triggers import Trigger, TriggerAction

    def changed(muted: bool) -> None:
        action = TriggerAction.MUTE if muted else TriggerAction.UNMUTE
        inbox.trigger(Trigger(action, "mute switch"))

    try:
        return MuteSwitch(settings.mute, changed)
    except ButtonUnavailable as exc:
        log.error("%s; serving without the mute switch (SIGUSR2 still mutes)", exc)
        return None


def _services(settings: Settings, *, timeline: TextIO, config: Path) -> list[Service]:
    """The services beside the conversation the config and the environment ask for: the
    LEDs (``leds.driver``; the terminal driver draws on the timeline's stream), the systemd
    notifier and watchdog when systemd runs us (``$NOTIFY_SOCKET``), the metrics
    (``metrics.enabled``, or a ``conversation.daily_budget`` to keep), the recorder
    (``recording.transcripts``; the config file's hash in every recording)."""
    from device.leds.factory import build_led_service
    from device.metrics.service import build_metrics_service
    from device.recording.service import build_recorder, config_sha256
    from device.systemd.service import build_systemd_service

    services: list[Service] = []
    leds = build_led_service(settings.leds, out=timeline)
    if leds is not None:
        services.append(leds)
    wake = settings.wake
    phrases = [m.label for m in wake.models] if wake.enabled else []
    notifier = build_systemd_service(os.environ, wake_phrases=phrases)
    if notifier is not None:
        services.append(notifier)
    metrics = build_metrics_service(settings, os.environ)
    if metrics is not None:
        services.append(metrics)
    recorder = build_recorder(settings, config_sha256(config), os.environ)
    if recorder is not None:
        services.append(recorder)
    return services


def _taps(services: list[Service]) -> list[AudioTap]:
    """The services that also hear the conversation's audio (the recorder)."""
    from device.recording.service import RecorderService

    return [s for s in services if isinstance(s, RecorderService)]
