"""Start-up imports: what the window needs is imported before Qt, what it does not need is
not imported before it is shown (each in a fresh interpreter: the test process has
everything loaded already)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

# Records, in order, every module the finders are asked for while ``app.ui.app`` loads.
IMPORT_ORDER = """
import sys

class Recorder:
    seen = []

    def find_spec(self, name, path=None, target=None):
        self.seen.append(name)
        return None

sys.meta_path.insert(0, Recorder())
import app.ui.app
print("\\n".join(Recorder.seen))
"""


def _run(code: str) -> str:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_core_modules_of_the_window_load_before_qt():
    # Once PySide6 is loaded it wraps __import__ and reads the source of every module that
    # imports after it; the core's modules (pydantic models, settings) come first.
    seen = _run(IMPORT_ORDER).split()
    first_qt = next(k for k, name in enumerate(seen) if name.split(".")[0] == "PySide6")
    core = {"pydantic", "app.core.models", "app.core.events", "app.core.settings",
            "app.core.ideas", "app.core.history"}
    assert core <= set(seen[:first_qt]), sorted(core - set(seen[:first_qt]))


def test_building_the_command_line_reads_no_package_metadata():
    # ``storyreel`` with no arguments builds the parser before the window: the version
    # (importlib.metadata) is read only for --version.
    probe = ("import sys, app.cli; app.cli.build_parser(); "
             "print('importlib.metadata' in sys.modules)")
    assert _run(probe).strip() == "False"
    version = subprocess.run([sys.executable, "-m", "app", "--version"], cwd=REPO,
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("storyreel ") and "(Python " in version.stdout
    assert not version.stderr
