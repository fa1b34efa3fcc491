"""What provisioning does, as data: the site and the options in, the steps out (pure).

``plan(site, options)`` returns the steps in order; ``device/provision/apply.py`` carries
them out against a target tree (``/``, or an image tree with ``--root``), comparing what is
there with what a step wants, so a second run changes nothing. Paths in steps are the
device's (``/etc/voice-kiosk/config.yaml``), whatever the root.

Live (no ``--root``) the steps include commands for this machine: ``systemd-sysusers``,
``udevadm``, ``systemctl enable``/``start``, and the checks (``check-config``, ``doctor``).
Into an image tree they are what those commands would leave: the ``.wants/`` symlinks of
``systemctl enable``, and notes for what the device does at its first boot
(``systemd-sysusers`` reads ``/etc/sysusers.d``).

Example::

    steps = plan(site, Options(image=True))
    for step in steps: print(describe(step))
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import PurePosixPath as P

VENV = P("/opt/voice-kiosk/venv")
CONFIG_DIR = P("/etc/voice-kiosk")
CONFIG = CONFIG_DIR / "config.yaml"
PROMPTS_DIR = CONFIG_DIR / "prompts"
AUDIO_SCRIPT = CONFIG_DIR / "audio.pa"
MODELS_DIR = VENV / "share" / "voice-kiosk" / "models"  # where the daemon looks (wake/models.py)
CREDSTORE = P("/etc/credstore")
KEY_FILE = CREDSTORE / "voice-kiosk.openai-api-key"  # the unit's LoadCredential=
UNIT_DIR = P("/etc/systemd/system")
SYSUSERS = P("/etc/sysusers.d/voice-kiosk.conf")
RULES = P("/etc/udev/rules.d/60-voice-kiosk.rules")
USER = "voice-kiosk"
SERVICE = "voice-kiosk.service"
AUDIO_SERVICE = "voice-kiosk-audio.service"

# the packaged files (device/provision/units/, copies of systemd/) and where they go
UNIT_FILES = {
    SERVICE: UNIT_DIR / SERVICE,
    AUDIO_SERVICE: UNIT_DIR / AUDIO_SERVICE,
    "voice-kiosk-audio.pa": AUDIO_SCRIPT,
    "voice-kiosk.sysusers": SYSUSERS,
    "60-voice-kiosk.rules": RULES,
}


# -- the steps -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MakeDir:
    """A folder with this mode, owned by ``owner`` (user and group of that name)."""

    path: P
    mode: int
    owner: str = "root"


@dataclass(frozen=True, slots=True)
class WriteFile:
    """A file with these bytes and mode; ``secret``: its content is never shown or logged."""

    path: P
    data: bytes = field(repr=False)
    mode: int
    what: str
    owner: str = "root"
    secret: bool = False


@dataclass(frozen=True, slots=True)
class KeepFile:
    """A file that must be there already: kept as it is (the key when none is given, a
    site's own wake model). Missing: the step fails, saying ``how``."""

    path: P
    what: str
    how: str


@dataclass(frozen=True, slots=True)
class Symlink:
    """``path`` -> ``target``: what ``systemctl enable`` makes."""

    path: P
    target: str
    what: str


@dataclass(frozen=True, slots=True)
class Command:
    """A command whose exit code 0 means yes (``systemctl is-enabled --quiet ...``)."""

    argv: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class InGroups:
    """The user exists and is in every one of the groups."""

    user: str
    groups: tuple[str, ...]


Test = Command | InGroups


@dataclass(frozen=True, slots=True)
class Run:
    """Commands to change this machine, run when ``unless`` fails or when a file named
    in ``when_changed`` changed in this run (with neither: never needed)."""

    what: str
    commands: tuple[tuple[str, ...], ...]
    unless: Test | None = None
    when_changed: tuple[P, ...] = ()


@dataclass(frozen=True, slots=True)
class Check:
    """A check that must pass (exit 0) or provisioning fails with exit code 1; skipped
    (as passed) when ``unless`` holds. ``json``: the command prints one JSON object."""

    what: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    unless: Test | None = None
    unless_why: str = ""
    json: bool = False


@dataclass(frozen=True, slots=True)
class Note:
    """An "ok" line: what is left to the device, or why a step is not run."""

    what: str
    why: str


Step = MakeDir | WriteFile | KeepFile | Symlink | Run | Check | Note


# -- the inputs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Site:
    """What one site's provisioning installs, read by ``device/provision/gather.py``.

    ``prompts``: file name -> bytes of the prompts folder provisioning makes (None: the
    site names its own folder, ``prompts_dir``, left as it is); ``models``: the wake-word
    model files to install (target path -> bytes); ``present``: files that must be there
    already (a site's own models), with how to put them there; ``credential``: the key's
    bytes, or None to keep the one there; ``units``: the packaged files by name.
    """

    config: bytes
    echo_mode: str
    units: dict[str, bytes]
    prompts: dict[str, bytes] | None = None
    prompts_dir: P = PROMPTS_DIR
    models: dict[P, bytes] = field(default_factory=dict, repr=False)
    present: tuple[tuple[P, str], ...] = ()
    credential: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Options:
    """``image``: into an image tree (``--root``): no command runs on this machine.
    ``python``: the interpreter whose ``-m device`` runs the checks."""

    image: bool = False
    python: str = sys.executable


# -- the plan --------------------------------------------------------------------------------


def plan(site: Site, options: Options) -> list[Step]:
    """Every step, in order: files first, then this machine's commands and checks."""
    software = site.echo_mode == "software"
    steps: list[Step] = [
        MakeDir(CONFIG_DIR, 0o755),
        WriteFile(CONFIG, site.config, 0o644, "the config"),
    ]
    steps += _prompts(site)
    for folder in sorted({path.parent for path in site.models}):
        steps.append(MakeDir(folder, 0o755))
    for path, data in sorted(site.models.items()):
        steps.append(WriteFile(path, data, 0o644, "a wake model"))
    for path, how in site.present:
        steps.append(KeepFile(path, "a wake model", how))
    steps.append(MakeDir(CREDSTORE, 0o700))
    if site.credential is None:
        how = "give it with --credential-file F or --credential-stdin"
        steps.append(KeepFile(KEY_FILE, "the API key", how))
    else:
        steps.append(WriteFile(KEY_FILE, site.credential, 0o600, "the API key", secret=True))
    units = [SERVICE, "voice-kiosk.sysusers", "60-voice-kiosk.rules"]
    units += [AUDIO_SERVICE, "voice-kiosk-audio.pa"] if software else []
    for name in units:
        steps.append(WriteFile(UNIT_FILES[name], site.units[name], 0o644, _WHAT[name]))
    enabled = [(AUDIO_SERVICE, SERVICE)] if software else []
    enabled.append((SERVICE, "multi-user.target"))
    if options.image:
        steps += _image(enabled)
    else:
        steps += _live(site, options, software, enabled)
    return steps


_WHAT = {
    SERVICE: "the unit",
    AUDIO_SERVICE: "the sound server's unit (software echo mode)",
    "voice-kiosk-audio.pa": "the sound server's script",
    "voice-kiosk.sysusers": "the user and its groups",
    "60-voice-kiosk.rules": "the LED ring's udev rule",
}


def _prompts(site: Site) -> list[Step]:
    if site.prompts is None:
        return [Note("prompts", f"the site's own folder {site.prompts_dir}, left as it is")]
    steps: list[Step] = [MakeDir(site.prompts_dir, 0o755)]
    for name, data in sorted(site.prompts.items()):
        what = "the prompts' texts" if name == "prompts.yaml" else "a prompt"
        steps.append(WriteFile(site.prompts_dir / name, data, 0o644, what))
    return steps


def _image(enabled: list[tuple[str, str]]) -> list[Step]:
    steps: list[Step] = []
    for unit, wanted_by in enabled:
        link = UNIT_DIR / f"{wanted_by}.wants" / unit
        steps.append(Symlink(link, str(UNIT_DIR / unit), f"{unit} enabled"))
    return [
        *steps,
        Note(
            f"user {USER} and its groups",
            f"systemd-sysusers makes them at the first boot from {SYSUSERS}",
        ),
        Note(
            "check-config and doctor",
            "not run with --root (the target's files and sound "
            "cards are not this machine's): run voice-kiosk doctor on the device",
        ),
    ]


def groups_of(sysusers: bytes, user: str = USER) -> tuple[str, ...]:
    """The groups a sysusers.d file puts ``user`` in (its ``m USER GROUP`` lines)."""
    groups = []
    for line in sysusers.decode().splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "m" and words[1] == user:
            groups.append(words[2])
    return tuple(groups)


def _live(
    site: Site, options: Options, software: bool, enabled: list[tuple[str, str]]
) -> list[Step]:
    units = [UNIT_DIR / SERVICE] + ([UNIT_DIR / AUDIO_SERVICE] if software else [])
    steps: list[Step] = [
        Run(
            f"user {USER} and its groups",
            (("systemd-sysusers", str(SYSUSERS)),),
            unless=InGroups(USER, groups_of(site.units["voice-kiosk.sysusers"])),
            when_changed=(SYSUSERS,),
        ),
        Run(
            "udev rules reloaded",
            (("udevadm", "control", "--reload"), ("udevadm", "trigger", "--subsystem-match=usb")),
            when_changed=(RULES,),
        ),
        Run("systemd reloaded", (("systemctl", "daemon-reload"),), when_changed=tuple(units)),
    ]
    for unit, _ in enabled:
        steps.append(
            Run(
                f"{unit} enabled",
                (("systemctl", "enable", unit),),
                unless=Command(("systemctl", "is-enabled", "--quiet", unit)),
            )
        )
    python = (options.python, "-m", "device")
    running = Command(("systemctl", "is-active", "--quiet", SERVICE))
    env: tuple[tuple[str, str], ...] = ()
    if software:
        steps += _restart_or_start(AUDIO_SERVICE, (AUDIO_SCRIPT, UNIT_DIR / AUDIO_SERVICE))
        env = (("PULSE_SERVER", "unix:/run/voice-kiosk-audio/native"),)
    steps.append(Check("check-config", (*python, "check-config", str(CONFIG))))
    steps.append(
        Check(
            "doctor",
            (*python, "doctor", "--config", str(CONFIG), "--json"),
            env=env,
            unless=running,
            unless_why="the daemon is running and holds the sound card",
            json=True,
        )
    )
    reads = [CONFIG, KEY_FILE, UNIT_DIR / SERVICE, *site.models]
    reads += [site.prompts_dir / name for name in site.prompts or {}]
    steps += _restart_or_start(SERVICE, tuple(reads))
    return steps


def _restart_or_start(unit: str, reads: tuple[P, ...]) -> list[Step]:
    """Restart a running unit whose files changed; start it if it is not running."""
    return [
        Run(
            f"{unit} restarted (its files changed)",
            (("systemctl", "try-restart", unit),),
            when_changed=reads,
        ),
        Run(
            f"{unit} running",
            (("systemctl", "start", unit),),
            unless=Command(("systemctl", "is-active", "--quiet", unit)),
        ),
    ]
