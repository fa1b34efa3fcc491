"""Carry out a plan's steps against a target tree, one line per step.

Each line is ``STATUS: SUBJECT: what``, STATUS one of ``ok`` (nothing to do),
``changed``, ``would change`` (``--dry-run``) or ``failed`` (the run stops there). A step
compares what is there with what it wants (bytes, mode, owner, a link's target, a
command's check), so a second run prints only ``ok`` lines. Files are written whole or
not at all (a temporary file beside them, renamed), with their mode set before the rename:
the key is never readable by others, not even for a moment. A secret's bytes are compared,
never shown.

Owners: as root the owner is set (uid and gid 0 for ``root``); otherwise it cannot be,
and the line says so (into an image tree that is never a failure).

Example::

    result = Applier(Path("/tmp/image"), dry_run=False, out=sys.stdout).apply(steps)
    result.changed, result.failed
"""

from __future__ import annotations

import contextlib
import grp
import hmac
import json
import os
import pwd
import stat
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, TextIO

from device.provision.plan import (
    Check,
    Command,
    InGroups,
    KeepFile,
    MakeDir,
    Note,
    Run,
    Step,
    Symlink,
    Test,
    WriteFile,
)

OK, CHANGED, WOULD, FAILED = "ok", "changed", "would change", "failed"
COMMAND_TIMEOUT_S = 300  # doctor plays and records for a few seconds; sysusers, systemctl less


class Host(Protocol):
    """How commands run on this machine (a fake in tests)."""

    def run(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> tuple[int, str]:
        """Run ``argv``; its exit code and its output (stdout, then stderr)."""
        ...

    def in_groups(self, user: str, groups: tuple[str, ...]) -> bool:
        """Whether ``user`` exists and is in every one of ``groups``."""
        ...


class Machine:
    """This machine: ``subprocess.run``, with a timeout; a missing program is exit 127."""

    def run(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> tuple[int, str]:
        full = {**os.environ, **env} if env else None
        try:
            done = subprocess.run(
                list(argv),
                capture_output=True,
                text=True,
                env=full,
                stdin=subprocess.DEVNULL,
                timeout=COMMAND_TIMEOUT_S,
                check=False,
            )
        except FileNotFoundError:
            return 127, f"{argv[0]}: not found"
        except subprocess.TimeoutExpired:
            return 124, f"{argv[0]}: no answer within {COMMAND_TIMEOUT_S} s"
        return done.returncode, done.stdout + done.stderr

    def in_groups(self, user: str, groups: tuple[str, ...]) -> bool:
        try:
            entry = pwd.getpwnam(user)
            for name in groups:
                group = grp.getgrnam(name)
                if user not in group.gr_mem and group.gr_gid != entry.pw_gid:
                    return False
        except KeyError:
            return False
        return True


@dataclass(slots=True)
class Result:
    ok: int = 0
    changed: int = 0
    failed: bool = False


class Applier:
    """Applies steps under ``root`` (``/`` live); ``dry_run`` writes and runs nothing."""

    def __init__(
        self,
        root: Path,
        *,
        dry_run: bool,
        out: TextIO,
        host: Host | None = None,
        can_chown: bool | None = None,
    ) -> None:
        self.root = root
        self.dry_run = dry_run
        self.out = out
        self.host = host or Machine()
        self.can_chown = os.geteuid() == 0 if can_chown is None else can_chown
        self.changed: set[PurePosixPath] = set()
        self.result = Result()

    def apply(self, steps: Iterable[Step]) -> Result:
        """Every step in order, one line each; stops at the first that fails."""
        for step in steps:
            status, subject, words = self._step(step)
            self._line(status, subject, words)
            if status == FAILED:
                self.result.failed = True
                break
        return self.result

    # -- one step ------------------------------------------------------------------------

    def _step(self, step: Step) -> tuple[str, str, str]:
        match step:
            case MakeDir():
                return self._dir(step)
            case WriteFile():
                return self._file(step)
            case KeepFile():
                if self._real(step.path).is_file():
                    return OK, str(step.path), f"{step.what}, kept as it is"
                return FAILED, str(step.path), f"{step.what} is missing: {step.how}"
            case Symlink():
                return self._link(step)
            case Run():
                return self._run(step)
            case Check():
                return self._check(step)
            case Note():
                return OK, step.what, step.why
        raise TypeError(f"not a step: {step!r}")  # pragma: no cover

    def _line(self, status: str, subject: str, words: str) -> None:
        if status in (CHANGED, WOULD):
            self.result.changed += 1
        elif status == OK:
            self.result.ok += 1
        print(f"{status}: {subject}: {words}", file=self.out, flush=True)

    def _real(self, path: PurePosixPath) -> Path:
        return self.root / str(path).lstrip("/")

    def _done(self, path: PurePosixPath, words: str) -> tuple[str, str, str]:
        self.changed.add(path)
        return (WOULD if self.dry_run else CHANGED), str(path), words

    # -- files ---------------------------------------------------------------------------

    def _owner_ids(self, owner: str) -> tuple[int, int] | None:
        """The ids to set, or None when they cannot be set here (not root, or a user
        other than root, whose id the target decides: systemd-sysusers at its boot)."""
        return (0, 0) if self.can_chown and owner == "root" else None

    def _owner_words(self, owner: str) -> str:
        if owner != "root":
            return f"owner {owner} (set by systemd)"
        return "owner root" if self.can_chown else "owner root not set (not running as root)"

    def _differences(self, info: os.stat_result, mode: int, owner: str) -> list[str]:
        words = []
        if stat.S_IMODE(info.st_mode) != mode:
            words.append(f"mode {stat.S_IMODE(info.st_mode):04o} -> {mode:04o}")
        ids = self._owner_ids(owner)
        if ids is not None and (info.st_uid, info.st_gid) != ids:
            words.append(f"owner {info.st_uid}:{info.st_gid} -> {owner}")
        return words

    def _parents(self, real: Path) -> None:
        """Missing folders above ``real`` (0755, root's), as ``install -D`` makes them."""
        missing = []
        for parent in real.parents:
            if parent.exists() or parent == self.root:
                break
            missing.append(parent)
        for parent in reversed(missing):
            parent.mkdir()
            os.chmod(parent, 0o755)
            ids = self._owner_ids("root")
            if ids is not None:
                os.chown(parent, *ids)

    def _dir(self, step: MakeDir) -> tuple[str, str, str]:
        real = self._real(step.path)
        ids = self._owner_ids(step.owner)
        try:
            info = os.stat(real)
        except FileNotFoundError:
            if not self.dry_run:
                self._parents(real)
                real.mkdir()
                os.chmod(real, step.mode)
                if ids is not None:
                    os.chown(real, *ids)
            return self._done(
                step.path, f"folder made ({step.mode:04o}, {self._owner_words(step.owner)})"
            )
        if not stat.S_ISDIR(info.st_mode):
            return FAILED, str(step.path), "is there and not a folder"
        words = self._differences(info, step.mode, step.owner)
        if not words:
            return OK, str(step.path), f"folder ({step.mode:04o}, {self._owner_words(step.owner)})"
        if not self.dry_run:
            os.chmod(real, step.mode)
            if ids is not None:
                os.chown(real, *ids)
        return self._done(step.path, "folder: " + ", ".join(words))

    def _file(self, step: WriteFile) -> tuple[str, str, str]:
        real = self._real(step.path)
        try:
            info: os.stat_result | None = os.lstat(real)
        except FileNotFoundError:
            info = None
        if info is not None and not stat.S_ISREG(info.st_mode):
            return FAILED, str(step.path), "is there and not a regular file"
        kept = f"{step.mode:04o}, {self._owner_words(step.owner)}"
        if info is None:
            words = [f"written ({kept})"]
        else:
            same = hmac.compare_digest(real.read_bytes(), step.data)
            words = [] if same else ["replaced"]
            words += self._differences(info, step.mode, step.owner)
        if not words:
            return OK, str(step.path), f"{step.what}, unchanged ({kept})"
        if not self.dry_run:
            self._parents(real)
            self._write(real, step)
        return self._done(step.path, f"{step.what}: " + ", ".join(words))

    def _write(self, real: Path, step: WriteFile) -> None:
        temporary = real.with_name(f".{real.name}.provisioning")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, step.mode)  # the mode before the name: never readable by others
            ids = self._owner_ids(step.owner)
            if ids is not None:
                os.fchown(fd, *ids)
            view = memoryview(step.data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            temporary.unlink()
            raise
        os.close(fd)
        os.replace(temporary, real)

    def _link(self, step: Symlink) -> tuple[str, str, str]:
        real = self._real(step.path)
        if real.is_symlink():
            if os.readlink(real) == step.target:
                return OK, str(step.path), f"{step.what} (-> {step.target})"
        elif real.exists():
            return FAILED, str(step.path), "is there and not a link"
        if not self.dry_run:
            self._parents(real)
            temporary = real.with_name(f".{real.name}.provisioning")
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            os.symlink(step.target, temporary)
            os.replace(temporary, real)
        return self._done(step.path, f"{step.what} (-> {step.target})")

    # -- this machine --------------------------------------------------------------------

    def _holds(self, test: Test) -> bool:
        match test:
            case Command(argv):
                return self.host.run(argv)[0] == 0
            case InGroups(user, groups):
                return self.host.in_groups(user, groups)
        raise TypeError(f"not a test: {test!r}")  # pragma: no cover

    def _run(self, step: Run) -> tuple[str, str, str]:
        because = [p for p in step.when_changed if p in self.changed]
        needed = bool(because) or (step.unless is not None and not self._holds(step.unless))
        shown = "; ".join(" ".join(argv) for argv in step.commands)
        if not needed:
            return OK, step.what, "nothing to do"
        if self.dry_run:
            return WOULD, step.what, f"would run {shown}"
        for argv in step.commands:
            code, output = self.host.run(argv)
            if code != 0:
                return FAILED, step.what, f"{' '.join(argv)} exited {code}: {_last(output)}"
        return CHANGED, step.what, f"ran {shown}"

    def _check(self, step: Check) -> tuple[str, str, str]:
        if step.unless is not None and self._holds(step.unless):
            return OK, step.what, f"not run: {step.unless_why}"
        if self.dry_run:
            return OK, step.what, "not run (--dry-run)"
        code, output = self.host.run(step.argv, dict(step.env) or None)
        words = _doctor_words(output) if step.json else _last(output)
        return (OK if code == 0 else FAILED), step.what, f"exit {code}: {words}"


def _last(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def _doctor_words(output: str) -> str:
    """The doctor's JSON object in a few words: its error, the problems, or what passed."""
    report: Any = None
    for line in reversed(output.splitlines()):
        with contextlib.suppress(ValueError):
            report = json.loads(line)
            break
    if not isinstance(report, dict):
        return _last(output)
    problems = [str(report["error"])] if report.get("error") else []
    for key in ("meter", "raw_input_meter", "tone", "echo"):
        part = report.get(key)
        if isinstance(part, dict):
            problems += [str(p) for p in part.get("problems", []) or []]
            if part.get("error"):
                problems.append(str(part["error"]))
    if problems:
        return "; ".join(problems)[:300]
    done = [key for key in report if key != "ok"]
    return ("passed: " + ", ".join(done)) if report.get("ok") else "failed"
