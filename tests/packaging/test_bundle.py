"""Smoke test of the built desktop app: `make package`, then `make package-test`.

The frozen app is run as a user's machine would run it: from the .deb unpacked
into a temporary root (`dpkg-deb -x`), else from the folder dist/storyreel/, or
from STORYREEL_BUNDLE (the path of the executable; the release workflow sets it
on Windows and macOS). Its environment has no venv, no PYTHONPATH and no cloud
settings, and a temporary HOME and STORYREEL_HOME, so it runs on the embedded
defaults and touches nobody's data. Skipped, with the reason, when nothing was
built. Prints figures: the Python inside, the run's time, the self-test's time,
and the cold start to the first window shown under Xvfb.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
SAMPLE = ROOT / "resources" / "samples" / "lighthouse.txt"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
    "version"]
EXE_NAME = "storyreel.exe" if sys.platform == "win32" else "storyreel"
PNG = b"\x89PNG\r\n\x1a\n"
# Variables that would point the app at a cloud service, or at Python.
FOREIGN = re.compile(r"^(MONGODB_|RUNPOD_|R2_|WRITER_|STORYREEL_|PYTHON|VIRTUAL_ENV|CONDA_|"
                     r"QT_|DISPLAY$|WAYLAND_DISPLAY$|XDG_)")


@dataclass(frozen=True)
class Bundle:
    exe: Path
    how: str  # what was found: the .deb, the folder, or STORYREEL_BUNDLE
    root: Path | None = None  # the unpacked .deb's root


def _top(bundle: Bundle) -> Path:
    """The folder holding everything: dist/storyreel/, or Storyreel.app/Contents/."""
    return bundle.exe.parent.parent if bundle.exe.parent.name == "MacOS" else bundle.exe.parent


def _newest(pattern: str) -> Path | None:
    found = sorted(DIST.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Bundle:
    given = os.environ.get("STORYREEL_BUNDLE")
    if given:
        exe = Path(given).resolve()
        if not exe.is_file():
            pytest.fail(f"STORYREEL_BUNDLE={given} is not a file")
        return Bundle(exe, f"STORYREEL_BUNDLE ({exe})")
    deb = _newest("storyreel_*.deb")
    if deb is not None and shutil.which("dpkg-deb"):
        root = tmp_path_factory.mktemp("deb-root")
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        return Bundle(root / "opt" / "storyreel" / "storyreel", f"{deb.name} unpacked", root)
    for exe in (DIST / "storyreel" / EXE_NAME, DIST / "Storyreel.app" / "Contents" / "MacOS"
                / "storyreel"):
        if exe.is_file():
            return Bundle(exe, str(exe.relative_to(ROOT)))
    pytest.skip("no desktop bundle in dist/ (no storyreel_*.deb, no dist/storyreel/): "
                "build one with `make package`")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("storyreel-scratch")


@pytest.fixture(scope="module")
def env(scratch: Path) -> dict[str, str]:
    """A clean environment: system PATH only (no venv), a throwaway HOME and data folder."""
    clean = {k: v for k, v in os.environ.items() if not FOREIGN.match(k)}
    system_path = [p for p in os.environ.get("PATH", "").split(os.pathsep)
                   if p and not Path(p, "activate").exists()]  # drop every venv's bin/
    clean.update(PATH=os.pathsep.join(system_path), HOME=str(scratch / "user"),
                 USERPROFILE=str(scratch / "user"), STORYREEL_HOME=str(scratch / "data"))
    (scratch / "user").mkdir(exist_ok=True)
    if sys.platform == "linux":  # Qt wants one, private to the user
        runtime = scratch / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        clean["XDG_RUNTIME_DIR"] = str(runtime)
    return clean


def start(bundle: Bundle, env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    """The app in the background, its output in ``log`` (a pipe could fill and stall it)."""
    with log.open("w") as out:
        return subprocess.Popen([str(bundle.exe), *args], env=env, cwd=env["HOME"],
                                stdout=out, stderr=subprocess.STDOUT)


def run(bundle: Bundle, env: dict[str, str], *args: str, timeout: float = 180,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bundle.exe), *args], env=env, cwd=cwd or env["HOME"],
                          capture_output=True, text=True, timeout=timeout, check=False)


def _explain(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\nstdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-3000:]}"


# The package itself.


def test_deb_installs_where_the_menu_finds_it(bundle: Bundle):
    if bundle.root is None:
        pytest.skip(f"testing {bundle.how}, not a .deb")
    root = bundle.root
    assert os.access(root / "opt/storyreel/storyreel", os.X_OK)
    link = root / "usr/bin/storyreel"
    assert link.is_symlink() and os.readlink(link) == "/opt/storyreel/storyreel"
    desktop = (root / "usr/share/applications/storyreel.desktop").read_text(encoding="utf-8")
    assert "Exec=/opt/storyreel/storyreel %F" in desktop
    assert "Icon=storyreel" in desktop
    mime_types = re.search(r"^MimeType=(.*)$", desktop, re.M).group(1).split(";")
    assert {"text/plain", "text/markdown", "text/x-fountain"} <= set(mime_types)
    if shutil.which("desktop-file-validate"):
        checked = subprocess.run(["desktop-file-validate",
                                  str(root / "usr/share/applications/storyreel.desktop")],
                                 capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    mime = ET.parse(root / "usr/share/mime/packages/storyreel.xml").getroot()
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    fountain = mime.find("m:mime-type[@type='text/x-fountain']", ns)
    assert fountain is not None
    assert fountain.find("m:glob[@pattern='*.fountain']", ns) is not None
    assert (root / "usr/share/icons/hicolor/scalable/apps/storyreel.svg").is_file()
    assert (root / "usr/share/icons/hicolor/256x256/apps/storyreel.png").is_file()


def test_deb_scripts_leave_user_data_alone(bundle: Bundle, tmp_path: Path):
    if bundle.root is None:
        pytest.skip(f"testing {bundle.how}, not a .deb")
    deb = _newest("storyreel_*.deb")
    subprocess.run(["dpkg-deb", "-e", str(deb), str(tmp_path / "DEBIAN")], check=True)
    control = (tmp_path / "DEBIAN/control").read_text(encoding="utf-8")
    assert f"Version: {VERSION}\n" in control
    assert re.search(r"^Depends: .*libc6", control, re.M)
    for script in ("postinst", "postrm"):
        text = (tmp_path / "DEBIAN" / script).read_text(encoding="utf-8")
        commands = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        assert not any(re.search(r"\brm\b|HOME|\.local", line) for line in commands), script


def test_deb_installs_registers_its_types_and_purges_cleanly(bundle: Bundle, tmp_path: Path):
    """dpkg itself, into an empty root (--root): the maintainer scripts run, the Fountain
    type and the menu entry are registered, and a purge leaves a user's data in place."""
    if bundle.root is None or not shutil.which("dpkg"):
        pytest.skip(f"testing {bundle.how}, not a .deb (or no dpkg here)")
    root = tmp_path / "root"
    for folder in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log"):
        (root / folder).mkdir(parents=True)
    (root / "var/lib/dpkg/status").touch()
    user_data = root / "home/someone/.local/share/storyreel"
    user_data.mkdir(parents=True)
    (user_data / "history.db").write_text("their runs")
    dpkg = ["dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends",
            "--force-not-root"]

    installed = subprocess.run([*dpkg, "-i", str(_newest("storyreel_*.deb"))],
                               capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert os.access(root / "opt/storyreel/storyreel", os.X_OK)
    if shutil.which("update-mime-database"):  # postinst ran it: *.fountain is known
        assert (root / "usr/share/mime/text/x-fountain.xml").is_file()
        assert "*.fountain" in (root / "usr/share/mime/globs2").read_text()
    if shutil.which("update-desktop-database"):  # and "Open with" lists Storyreel
        cache = (root / "usr/share/applications/mimeinfo.cache").read_text()
        assert "text/x-fountain=storyreel.desktop;" in cache

    purged = subprocess.run([*dpkg, "--purge", "storyreel"], capture_output=True, text=True)
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert not (root / "opt/storyreel").exists()
    assert not (root / "usr/bin/storyreel").is_symlink()
    assert not (root / "usr/share/applications/storyreel.desktop").exists()
    assert (user_data / "history.db").read_text() == "their runs"


# The frozen app.


def test_version_is_the_projects_and_names_its_python(bundle: Bundle, env):
    done = run(bundle, env, "--version", timeout=60)
    assert done.returncode == 0, _explain(done)
    found = re.fullmatch(r"storyreel (\S+) \(Python (\d+)\.(\d+)\.(\d+)\)\s*", done.stdout)
    assert found, done.stdout
    assert found.group(1) == VERSION
    python = tuple(int(n) for n in found.group(2, 3))
    print(f"\nbundle: {bundle.how}; {done.stdout.strip()}")
    if python < (3, 12):
        print("WARNING: the bundle carries Python < 3.12 (built without python3.12)")


def test_doctor_finds_every_part_embedded_and_working(bundle: Bundle, env):
    done = run(bundle, env, "doctor", "--json", timeout=120)
    assert done.returncode == 0, _explain(done)
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["version"] == VERSION
    parts = {part["name"]: part for part in report["parts"]}
    assert set(parts) >= {"writer", "renderer", "storage", "history"}
    for part in parts.values():
        assert part["mode"] == "embedded" and part["ok"], part


@pytest.fixture(scope="module")
def finished_run(bundle: Bundle, env) -> dict:
    started = time.monotonic()
    done = run(bundle, env, "run", str(SAMPLE), "--json", "--seed", "7")
    took = time.monotonic() - started
    assert done.returncode == 0, _explain(done)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    print(f"\nrun of {SAMPLE.name}: {result['shots_done']} shots in {took:.1f} s "
          f"(process start to exit)")
    return result


def test_a_sample_idea_becomes_a_finished_storyboard_on_disk(finished_run, env):
    assert finished_run["status"] == "completed"
    assert finished_run["shot_count"] > 0
    assert finished_run["shots_done"] == finished_run["shot_count"]
    data = Path(env["STORYREEL_HOME"]).resolve()
    for shot in finished_run["shots"]:
        image = Path(shot["image_path"]).resolve()
        assert image.is_relative_to(data), image
        assert image.read_bytes()[:8] == PNG, image


def test_the_run_is_kept_in_the_embedded_history(bundle: Bundle, env, finished_run):
    done = run(bundle, env, "history", "--json", timeout=120)
    assert done.returncode == 0, _explain(done)
    runs = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    listed = {r["run_id"]: r for r in runs}
    assert finished_run["run_id"] in listed, runs
    assert listed[finished_run["run_id"]]["status"] == "completed"
    assert (Path(env["STORYREEL_HOME"]) / "db").is_dir()


@pytest.mark.parametrize(("fmt", "magic"), [("pdf", b"%PDF"), ("otio", b"{"), ("zip", b"PK"),
                                            ("fountain", None)])
def test_exports_work_frozen(bundle: Bundle, env, finished_run, tmp_path, fmt, magic):
    out = tmp_path / f"board.{fmt}"
    done = run(bundle, env, "export", finished_run["run_id"], "--format", fmt, "--out", str(out))
    assert done.returncode == 0, _explain(done)
    assert out.stat().st_size > 0
    if magic is not None:
        assert out.read_bytes()[:len(magic)] == magic


def test_mp4_export_uses_an_ffmpeg_or_says_how_to_get_one(bundle: Bundle, env, finished_run,
                                                          tmp_path):
    out = tmp_path / "animatic.mp4"
    done = run(bundle, env, "export", finished_run["run_id"], "--format", "mp4",
               "--seconds", "0.5", "--out", str(out))
    carried = list(_top(bundle).rglob("imageio_ffmpeg/binaries/ffmpeg*"))
    if carried or shutil.which("ffmpeg", path=env["PATH"]):
        assert done.returncode == 0, _explain(done)
        assert out.read_bytes()[4:8] == b"ftyp"
    else:  # a bundle without ffmpeg on a machine without one: a clear refusal
        assert done.returncode != 0 and "ffmpeg" in done.stderr, _explain(done)
        print("\nmp4: no ffmpeg in the bundle or on PATH; the export said so")


def test_translations_are_bundled_with_qts_own(bundle: Bundle):
    languages = sorted({p.stem.split("_", 1)[1]
                        for p in (ROOT / "resources" / "translations").glob("storyreel_*.ts")})
    if not languages:
        pytest.skip("the app has no translations yet")
    files = {p.name for p in _top(bundle).rglob("*.qm")}
    for language in languages:
        assert f"storyreel_{language}.qm" in files
        assert f"qtbase_{language}.qm" in files


@pytest.mark.parametrize("language", ["", "fr"])
def test_self_test_paints_the_window_and_runs_a_draft_offscreen(bundle: Bundle, env, language):
    started = time.monotonic()
    done = run(bundle, {**env, "STORYREEL_LANG": language}, "--self-test",
               timeout=240)  # no DISPLAY: the app goes offscreen by itself
    took = time.monotonic() - started
    if "unrecognized arguments: --self-test" in done.stderr:
        pytest.fail("this bundle's CLI has no --self-test yet: rebuild it (make package)")
    assert done.returncode == 0, _explain(done)
    assert "self-test: ok" in done.stderr, _explain(done)
    print(f"\nself-test{' (' + language + ')' if language else ''}: {took:.1f} s, "
          f"process start to exit")


# The window on a real X server (the xcb platform plugin a desktop uses).


@pytest.fixture(scope="module")
def xvfb():
    if sys.platform != "linux" or not (shutil.which("Xvfb") and shutil.which("xwininfo")):
        pytest.skip("needs Xvfb and xwininfo (apt-get install xvfb x11-utils)")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0",
                               "1600x1000x24", "-nolisten", "tcp"], pass_fds=(write,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        pytest.skip("Xvfb did not start")
    yield f":{number}"
    server.terminate()
    server.wait(10)


def _window_shown(display: str, title: str) -> bool:
    tree = subprocess.run(["xwininfo", "-display", display, "-root", "-tree"],
                          capture_output=True, text=True).stdout
    return f'"{title}"' in tree


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def test_cold_start_to_the_first_window_on_x11(bundle: Bundle, env, xvfb, tmp_path):
    window_env = {**env, "DISPLAY": xvfb, "STORYREEL_HOME": str(tmp_path / "data")}
    log = tmp_path / "window.log"
    started = time.monotonic()
    app = start(bundle, window_env, log)
    try:
        while not _window_shown(xvfb, "Storyreel"):
            if app.poll() is not None or time.monotonic() - started > 60:
                pytest.fail(f"no window within {time.monotonic() - started:.0f} s "
                            f"(exit {app.poll()}): {log.read_text()[-3000:]}")
            time.sleep(0.02)
        shown = time.monotonic() - started
    finally:
        _stop(app)
    print(f"\ncold start to the first window on X11 (Xvfb): {shown * 1000:.0f} ms")


def test_an_idea_file_opened_with_the_app_becomes_a_run(bundle: Bundle, env, xvfb, tmp_path):
    """What a file manager's "Open with Storyreel" does: `storyreel FILE`."""
    idea = tmp_path / "idea.fountain"
    shutil.copyfile(ROOT / "resources" / "samples" / "first_contact.fountain", idea)
    window_env = {**env, "DISPLAY": xvfb, "STORYREEL_HOME": str(tmp_path / "data")}
    log = tmp_path / "window.log"
    app = start(bundle, window_env, log, str(idea))
    deadline = time.monotonic() + 120
    runs: list[dict] = []
    try:
        while time.monotonic() < deadline and app.poll() is None:
            listed = run(bundle, window_env, "history", "--json", timeout=60)
            runs = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
            if any(r.get("source") == idea.name and r["status"] == "completed" for r in runs):
                break
            time.sleep(1)
    finally:
        alive = app.poll() is None
        _stop(app)
    assert alive, f"the window exited early: {log.read_text()[-3000:]}"
    assert any(r.get("source") == idea.name and r["status"] == "completed" for r in runs), (
        f"{runs}\n{log.read_text()[-3000:]}")
