"""Real small and read-only disks for tests: a tmpfs of a few kilobytes mounted on a
folder (needs mount rights: root, or a user namespace), unmounted afterwards. A test
that cannot mount skips and says why; nothing here mocks ``OSError``."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(args: list[str]) -> subprocess.CompletedProcess:
    mount = shutil.which("mount")
    if mount is None:
        pytest.skip("no `mount` program on this machine: cannot make a real small disk")
    return subprocess.run([mount, *args], capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str = "64k", *, read_only: bool = False) -> Iterator[Path]:
    """``folder`` as a tmpfs of ``size`` (read-only with ``read_only``) for the block."""
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    done = _mount(["-t", "tmpfs", "-o", options, "tmpfs", str(folder)])
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (not permitted): {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)
