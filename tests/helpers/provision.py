"""Shared by the provisioning tests: a site's config, a key, the command run in this
process, and a tree's snapshot (kind, mode, bytes of every entry)."""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from device.cli.main import build_parser
from device.provision.command import run_provision

KEY = "sk-test-0123456789abcdefSECRET"
FIVE_LINES = """\
device:
  name: kiosk-7
  site: Test lab, bench 3
conversation:
  offline_message: The network is down. Please ask at the front desk in hall B.
"""


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def provision(*argv: str, stdin: bytes = b"") -> Ran:
    """``voice-kiosk provision ARGV`` in this process, its stdin given, its output kept."""
    args = build_parser().parse_args(["provision", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = run_provision(args, stdin=io.BytesIO(stdin), stdout=out, stderr=err)
    return Ran(code, out.getvalue(), err.getvalue())


def snapshot(root: Path) -> dict[str, tuple[str, int, bytes]]:
    """Every entry under ``root``: its kind, mode and bytes (a link: its target)."""
    tree = {}
    for folder, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            path = Path(folder, name)
            info = os.lstat(path)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                tree[str(path.relative_to(root))] = ("link", mode, os.readlink(path).encode())
            elif stat.S_ISDIR(info.st_mode):
                tree[str(path.relative_to(root))] = ("dir", mode, b"")
            else:
                tree[str(path.relative_to(root))] = ("file", mode, path.read_bytes())
    return tree
