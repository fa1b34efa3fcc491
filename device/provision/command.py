"""`voice-kiosk provision CONFIG.yaml`: install this device (or an image tree) from a config.

    voice-kiosk provision site.yaml --credential-file key.txt        # this machine, as root
    printf '%s' "$KEY" | voice-kiosk provision site.yaml --credential-stdin
    voice-kiosk provision site.yaml --root /mnt/image --credential-file key.txt
    voice-kiosk provision site.yaml --dry-run                        # what it would do

Exit codes (for Ansible): 0 done (lines starting ``changed:`` say what changed, none on a
second run), 1 a step or check failed (its ``failed:`` line says which), 2 a bad config or
key, or bad usage (one line per problem on stderr). The key is read from the file or stdin
(without echo on a terminal), written mode 0600, and never printed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
from pathlib import Path
from typing import BinaryIO, TextIO

from device.provision.apply import Applier, Host
from device.provision.gather import EXIT_CONFIG, EXIT_FAILED, ProvisionError, gather
from device.provision.plan import Options, plan

MAX_KEY_BYTES = 4096
_KEY = re.compile(r"[\x21-\x7e]+")  # one word of printable ASCII: what API keys are


def read_credential(
    args: argparse.Namespace, stdin: BinaryIO | None, stderr: TextIO
) -> bytes | None:
    """The key from ``--credential-file`` or ``--credential-stdin``, stripped; None if
    neither is given. ``ProvisionError`` (exit 2) names the source, never the key."""
    if args.credential_file is not None:
        source = str(args.credential_file)
        try:
            with open(args.credential_file, "rb") as handle:
                raw = handle.read(MAX_KEY_BYTES + 1)
        except OSError as exc:
            raise ProvisionError(EXIT_CONFIG, [f"{source}: cannot read: {exc.strerror}"]) from None
    elif args.credential_stdin:
        source = "stdin"
        if stdin is None or stdin.isatty():
            raw = getpass.getpass("API key (not shown): ", stream=stderr).encode()
        else:
            raw = stdin.read(MAX_KEY_BYTES + 1)
    else:
        return None
    try:
        key = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        key = "\x00"
    if not key:
        raise ProvisionError(EXIT_CONFIG, [f"the API key from {source} is empty"])
    if len(raw) > MAX_KEY_BYTES or not _KEY.fullmatch(key):
        raise ProvisionError(
            EXIT_CONFIG,
            [
                f"the API key from {source} is not one line of printable characters "
                f"without spaces, at most {MAX_KEY_BYTES} bytes (not shown)"
            ],
        )
    return key.encode("ascii")


def run_provision(
    args: argparse.Namespace,
    *,
    stdin: BinaryIO | None,
    stdout: TextIO,
    stderr: TextIO,
    host: Host | None = None,
) -> int:
    """The command: gather, plan, apply; one line per step on ``stdout``, then a summary."""
    image = args.root is not None
    root = Path(args.root).absolute() if image else Path("/")
    if image and not root.is_dir():
        print(f"--root {args.root}: no such folder (mount the image's tree there)", file=stderr)
        return EXIT_CONFIG
    if not image and not args.dry_run and os.geteuid() != 0:
        print(
            "voice-kiosk provision: without --root it installs on this machine: run it as "
            "root (or add --dry-run to see what it would do)",
            file=stderr,
        )
        return EXIT_FAILED
    try:
        credential = read_credential(args, stdin, stderr)
        site = gather(Path(args.config), root=root, credential=credential)
    except ProvisionError as exc:
        for problem in exc.problems:
            print(problem, file=stderr)
        return exc.code
    where = f"the image tree {root}" if image else "this machine"
    dry = " (dry run: nothing is written or run)" if args.dry_run else ""
    print(f"voice-kiosk provision: {args.config} onto {where}{dry}", file=stdout)
    applier = Applier(root, dry_run=args.dry_run, out=stdout, host=host)
    result = applier.apply(plan(site, Options(image=image)))
    if result.failed:
        print(f"voice-kiosk provision: failed ({result.changed} changed before it)", file=stdout)
        return EXIT_FAILED
    if result.changed == 0:
        summary = f"nothing to change ({result.ok} ok)"
    else:
        verb = "would change" if args.dry_run else "changed"
        summary = f"{result.changed} {verb}, {result.ok} ok"
    print(f"voice-kiosk provision: {summary}", file=stdout)
    return 0
