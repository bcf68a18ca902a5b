"""Does the window stay smooth while two hundred shots land at once?

Drives the real window (offscreen, the real wiring from ``app.ui.app.open_ui``,
embedded history and the preview cache) with a simulated writer and renderer:
the renderer keeps ``--in-flight`` shots rendering at once, each landing after
a random 0.2-3 s with a real 1024x576 PNG written to the blob store (so every
thumbnail is really read, scaled and decoded). Meanwhile a person scrolls the
gallery and types an idea. It prints:

- heartbeat: gaps between ticks of a 5 ms precise QTimer on the GUI thread while
  shots land (max, p99, p95, median) -- the event loop's responsiveness; targets
  p99 <= 16 ms, max <= 50 ms -- and the same with the window idle, the machine's
  noise floor (other processes count too);
- CPU: seconds used during the run by each thread of this process (the GUI thread,
  the history server's when it has one, workers) and by the history server's process
  when it runs in one;
- with ``--why MS``: what the GUI thread was doing during heartbeat gaps longer than
  MS (a sampler thread records its Python stack every millisecond), to find the cause;
- landed -> shown: from a shot's ShotFinished event (or, when later, its card first
  asking for the image: cards off screen never ask) to its thumbnail decoded and in
  the gallery model, ready to paint (median, p95, max);
- first window: process start to the main window's first paint (a child process
  through ``run_gui``, median of ``--first-window`` runs), and to its services
  being open (they open after the first paint);
- memory: resident set size with ``--memory-shots`` cards in the gallery and
  their thumbnails loaded;
- soak: ``--soak`` Qt calls returning None under the qasync loop (PySide6 6.12 on
  Python 3.11 aborts with ``none_dealloc`` after some thousands; a safe build
  survives any number).

Usage: python benchmarks/ui.py [--shots 200] [--in-flight 100] [--heartbeat-ms 5]
                               [--memory-shots 500] [--soak 300000] [--first-window 5]
                               [--history embedded|memory] [--no-thumbnails] [--why MS]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import itertools
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib
from collections import Counter
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageDraw
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel

from app.core.history.memory import MemoryHistory
from app.core.models import (
    ImageRef,
    Scene,
    ScenePlan,
    Script,
    ShotPlan,
    ShotType,
)
from app.core.renderers import RenderRequest, RenderResult
from app.core.services import open_services
from app.core.settings import parse
from app.ui.app import open_ui, run_on_qt

SHOTS_PER_SCENE = 10
BASE_IMAGES = 12


class SimWriter:
    name = "simulated"

    def __init__(self, state: dict) -> None:
        self.state = state

    @property
    def shots(self) -> int:
        return self.state["shots"]

    async def write_script(self, idea, *, seed, style):
        await asyncio.sleep(0.2)
        return Script(title=f"Benchmark of {self.shots} shots", logline="Many shots.",
                      screenplay="Title: Benchmark\n\nEXT. A PLACE - DAY\n\nThings happen.\n")

    async def plan_scenes(self, idea, script, *, seed):
        await asyncio.sleep(0.2)
        scenes = -(-self.shots // SHOTS_PER_SCENE)
        plans, left = [], self.shots
        for s in range(1, scenes + 1):
            n = min(SHOTS_PER_SCENE, left)
            left -= n
            plans.append(ScenePlan(
                scene=Scene(index=s, heading=f"EXT. PLACE {s} - DAY", summary="Busy."),
                shots=[ShotPlan(shot_type=random.choice(list(ShotType)),
                                description=f"Shot {i} of scene {s}: somebody does something "
                                            "worth drawing in a storyboard panel.")
                       for i in range(1, n + 1)]))
        return plans

    async def aclose(self) -> None:
        return None


def base_pngs(count: int) -> list[bytes]:
    """A few realistic 1024x576 panels (PNG, ~100 KB)."""
    images = []
    rng = random.Random(7)
    for n in range(count):
        im = Image.new("RGB", (1024, 576), (236, 236, 232))
        draw = ImageDraw.Draw(im)
        for _ in range(40):
            x, y = rng.randrange(1024), rng.randrange(576)
            shade = rng.randrange(60, 200)
            draw.rectangle([x, y, x + rng.randrange(20, 300), y + rng.randrange(10, 200)],
                           outline=(shade, shade, shade), width=2)
        draw.text((20, 20), f"panel {n}", fill=(200, 40, 40))
        out = io.BytesIO()
        im.save(out, "PNG")
        images.append(out.getvalue())
    return images


def unique(png: bytes, text: str) -> bytes:
    """The same picture with a tEXt chunk after IHDR: other bytes, other sha256, other cache
    entries, same decoding work."""
    cut = 8 + 4 + 4 + 13 + 4
    data = b"Comment\x00" + text.encode()
    chunk = (struct.pack(">I", len(data)) + b"tEXt" + data
             + struct.pack(">I", zlib.crc32(b"tEXt" + data)))
    return png[:cut] + chunk + png[cut:]


class SimRenderer:
    """Lands each shot after a random latency with a real PNG in the blob store."""

    name = "simulated GPU"

    def __init__(self, store, pngs: list[bytes], state: dict) -> None:
        self.store, self.pngs, self.state = store, pngs, state
        self.in_flight = self.max_in_flight = 0

    async def render_shot(self, request: RenderRequest) -> RenderResult:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(random.uniform(self.state["low"], self.state["high"]))
        finally:
            self.in_flight -= 1
        png = unique(self.pngs[hash(request.key) % len(self.pngs)], request.key)
        await self.store.put(request.key, png, "image/png")
        return RenderResult(
            image=ImageRef(store=self.store.kind, bucket=self.store.bucket, key=request.key,
                           width=1024, height=576, seed=request.shot.seed,
                           sha256=hashlib.sha256(png).hexdigest(), bytes=len(png)),
            timings={"gpu_s": 1.0}, job_id=f"sim-{request.shot.shot_id}")

    async def aclose(self) -> None:
        return None


class Heartbeat:
    def __init__(self, interval_ms: int) -> None:
        self.ticks: list[float] = []
        self.timer = QTimer(interval=interval_ms)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)  # a coarse one may fire 5 % late
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def start(self) -> None:
        self.ticks.clear()
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return [(b - a) * 1000 for a, b in zip(self.ticks, self.ticks[1:], strict=False)]


class ThreadCPU:
    """CPU seconds used by each thread of this process (and by the history server's
    process, when it has one) between ``start()`` and ``stop()`` (Linux only)."""

    def __init__(self, history_pid: int | None = None) -> None:
        self.history_pid = history_pid
        self._before: dict[str, float] = {}

    @staticmethod
    def _seconds(stat: Path) -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def sample(self) -> dict[str, float]:
        names = {t.native_id: t.name for t in threading.enumerate()}
        main = threading.main_thread().native_id
        out: Counter[str] = Counter()
        for task in Path("/proc/self/task").iterdir():
            try:
                seconds = self._seconds(task / "stat")
            except (OSError, IndexError):
                continue
            tid = int(task.name)
            name = "GUI thread" if tid == main else names.get(tid, "other (Qt, native)")
            if name.startswith(("asyncio_", "ThreadPoolExecutor")):
                name = "asyncio.to_thread workers"
            out[name] += seconds
        if self.history_pid:
            try:
                out["history server process"] = self._seconds(
                    Path(f"/proc/{self.history_pid}/stat"))
            except (OSError, IndexError):
                pass
        return dict(out)

    def start(self) -> None:
        self._before = self.sample() if Path("/proc/self/task").is_dir() else {}

    def stop(self) -> str:
        if not self._before:
            return "n/a"
        after = self.sample()
        used = {k: v - self._before.get(k, 0.0) for k, v in after.items()}
        return ", ".join(f"{k} {v:.2f} s" for k, v in sorted(used.items(), key=lambda kv: -kv[1])
                         if v >= 0.01)


class GapSampler:
    """Records the GUI thread's Python stack every millisecond from a thread of its own;
    ``report()`` names what it was in during heartbeat gaps longer than ``threshold_ms``.

    A sample needs the GIL, so during a gap it shows where the GUI thread was waiting or
    working, and ``others`` which other threads were running Python code at that moment."""

    def __init__(self, threshold_ms: float) -> None:
        self.threshold_ms = threshold_ms
        self.samples: list[tuple[float, tuple[str, ...], tuple[str, ...]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gap-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        main = threading.main_thread().ident
        me = threading.get_ident()
        while not self._stop.wait(0.001):
            frames = sys._current_frames()
            stack = tuple(f"{Path(fs.filename).name}:{fs.name}"
                          for fs in traceback.extract_stack(frames.get(main))[-6:])
            busy = tuple(sorted(
                f"{Path(f.f_code.co_filename).name}:{f.f_code.co_name}"
                for ident, f in frames.items() if ident not in (main, me)
                and f.f_code.co_name not in ("wait", "select", "_worker", "get", "run_forever",
                                              "_run_once", "_wait_for_tstate_lock", "poll")))
            self.samples.append((time.perf_counter(), stack, busy))

    def report(self, ticks: list[float], top: int = 12) -> str:
        windows = [(a, b) for a, b in itertools.pairwise(ticks)
                   if (b - a) * 1000 > self.threshold_ms]
        gui: Counter[str] = Counter()
        others: Counter[str] = Counter()
        n = 0
        for t, stack, busy in self.samples:
            if any(a <= t <= b for a, b in windows):
                n += 1
                gui[" < ".join(reversed(stack[-3:]))] += 1
                for b in busy:
                    others[b] += 1
        lines = [f"  {len(windows)} gaps over {self.threshold_ms:g} ms, {n} samples in them"]
        lines.append("  GUI thread in (innermost first):")
        lines += [f"    {c:5d}  {s}" for s, c in gui.most_common(top)]
        lines.append("  other threads running Python meanwhile:")
        lines += [f"    {c:5d}  {s}" for s, c in others.most_common(top)]
        return "\n".join(lines)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def one_run(ui, shots: int, *, busy_person: bool, heartbeat_ms: int = 5,
                  why_ms: float | None = None, cpu: ThreadCPU | None = None,
                  ) -> tuple[list[float], list[float]]:
    """Run ``shots`` shots through the window; (heartbeat gaps, landed->shown ms)."""
    window = ui.window
    model = window.run_view.model
    landed: dict[str, float] = {}
    shown: dict[str, float] = {}
    key_to_shot: dict[str, str] = {}

    def on_finished(shot) -> None:
        landed[shot.shot_id] = time.perf_counter()
        if shot.image is not None:
            key_to_shot[shot.image.key] = shot.shot_id

    def on_ready(key: str) -> None:
        shot_id = key_to_shot.get(key)
        if shot_id is not None and shot_id not in shown:
            shown[shot_id] = time.perf_counter()

    # Cards ask for their images when painted (off-screen cards never do): count the
    # latency from the later of landing and the first ask.
    loader = ui.thumbnails
    request = loader.request

    def asking(ref) -> None:
        if ref is not None and ref.key in key_to_shot and ref.key not in asked:
            asked[ref.key] = time.perf_counter()
        request(ref)

    asked: dict[str, float] = {}
    loader.request = asking
    ui.bridge.shot_finished.connect(on_finished)
    ui.thumbnails.ready.connect(on_ready)
    finished = asyncio.get_running_loop().create_future()
    ui.bridge.run_finished.connect(lambda run: finished.done() or finished.set_result(run))

    heartbeat = Heartbeat(heartbeat_ms)
    sampler = GapSampler(why_ms) if why_ms else None
    if sampler is not None:
        sampler.start()
    if cpu is not None:
        cpu.start()
    heartbeat.start()
    window.idea.editor.setPlainText("A benchmark: a hundred shots land while a person works.")
    window.idea.shots.setValue(0)
    window.idea.submit_typed()
    bar = window.run_view.gallery.verticalScrollBar()
    n = 0
    while not finished.done() or ui.thumbnails.pending:
        await asyncio.sleep(0.05)
        if busy_person and not finished.done():  # while shots land: scroll, type a little
            n += 1
            bar.setValue((n * 97) % max(1, bar.maximum() + 1))
            if n % 4 == 0:
                window.idea.editor.insertPlainText("x")
    ticks = list(heartbeat.ticks)
    gaps = heartbeat.stop()
    if sampler is not None:
        sampler.stop()
        print(sampler.report(ticks))
    del loader.request
    run = finished.result()
    assert run.shots_done == shots, f"{run.shots_done}/{shots} done: {run.error}"
    assert model.rowCount() == shots
    shot_key = {shot_id: key for key, shot_id in key_to_shot.items()}
    latencies = [(shown[s] - max(landed[s], asked.get(shot_key[s], landed[s]))) * 1000
                 for s in shown if s in landed]
    return gaps, latencies


# The child imports only what ``storyreel`` (no arguments) imports before the window: none
# of this benchmark's own imports (PIL, the core's services) may count against it. And in
# the same order: ``app.ui.app`` first, as app.cli does (PySide6's import hook then sees
# what ``storyreel`` lets it see, not the whole app).
FIRST_WINDOW_CHILD = """
import sys, time
from app.ui.app import run_gui
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
from app.ui.window import MainWindow

app = QApplication([sys.argv[0]])

class FirstPaint(QObject):
    seen = False

    def eventFilter(self, obj, event):
        if not self.seen and event.type() == QEvent.Type.Paint and isinstance(obj, MainWindow):
            self.seen = True
            print(f"painted {time.time():.6f}", flush=True)
            # and the services open in the meantime: quit once they are (a real start-up)
            session = obj.session
            if getattr(session, "is_open", True):  # older builds open them first
                QTimer.singleShot(0, app.quit)
            else:
                session.opened.connect(lambda _s: print(f"services {time.time():.6f}",
                                                        flush=True) or app.quit())
        return False

spy = FirstPaint()
app.installEventFilter(spy)
raise SystemExit(run_gui([]))
"""


def first_window_seconds() -> tuple[float, float | None]:
    """Process start to the first paint of the main window, through ``run_gui``; and to
    the services being open (the status bar's "Ready")."""
    with tempfile.TemporaryDirectory() as home:
        started = time.time()
        child = subprocess.run(
            [sys.executable, "-c", FIRST_WINDOW_CHILD], capture_output=True,
            text=True, timeout=120, env={**os.environ, "STORYREEL_HOME": home},
            cwd=Path(__file__).resolve().parent.parent)
        stamps = dict(line.split() for line in child.stdout.splitlines()
                      if line.startswith(("painted ", "services ")))
        if child.returncode != 0 or "painted" not in stamps:
            raise RuntimeError(f"first-window child failed: {child.stderr[-2000:]}")
        ready = float(stamps["services"]) - started if "services" in stamps else None
        return float(stamps["painted"]) - started, ready


def first_window_figures(runs: int) -> str:
    """The first window of an installed app, whose bytecode pip compiled at install (the
    frozen bundle carries it too). A source checkout run with PYTHONDONTWRITEBYTECODE=1,
    as on this machine, would compile every module of app/ at every start instead: app/
    is compiled first, into its __pycache__ folders (git ignores them)."""
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "app")], check=True)
    painted, ready = zip(*(first_window_seconds() for _ in range(runs)), strict=True)
    text = (f"first window painted {statistics.median(painted):.2f} s after process start "
            f"(median of {runs}: {', '.join(f'{t:.2f}' for t in painted)})")
    opened = [t for t in ready if t is not None]
    if opened:
        text += f"; services open {statistics.median(opened):.2f} s"
    return text


def soak(calls: int) -> float:
    label = QLabel()
    started = time.perf_counter()
    for n in range(calls):
        label.setText("x" if n % 2 else "y")  # returns None: the 6.12/3.11 crash path
    return time.perf_counter() - started


async def bench(args: argparse.Namespace) -> None:
    pngs = await asyncio.to_thread(base_pngs, BASE_IMAGES)
    state = {"shots": args.shots, "low": 0.2, "high": 3.0}

    async def opener(settings):
        services = await open_services(settings)
        if args.history == "memory":  # leave the embedded database out of the picture
            await services.history.aclose()
            services.history = MemoryHistory()
        if not args.thumbnails:  # leave decoding out of the picture: cards stay placeholders
            from app.ui.thumbnails import ThumbnailLoader
            ThumbnailLoader.request = lambda self, ref: None
        services.writer = SimWriter(state)
        services.renderer = SimRenderer(services.store, pngs, state)
        return services

    with tempfile.TemporaryDirectory() as home:
        settings = parse({"STORYREEL_CONCURRENCY": str(args.in_flight)}, home=Path(home))
        ui = await open_ui(settings, opener=opener)
        ui.window.resize(1440, 900)
        ui.window.show()
        ui.start([])
        await asyncio.sleep(0.5)
        base_rss = rss_mb()
        idle = Heartbeat(args.heartbeat_ms)
        idle.start()
        await asyncio.sleep(3)
        floor = idle.stop()
        print(f"noise floor (window idle, 3 s): heartbeat max {max(floor):.1f} ms, "
              f"p99 {pct(floor, 99):.1f} ms, p95 {pct(floor, 95):.1f} ms")

        cpu = ThreadCPU(history_pid(ui.session.services.history))
        gaps, shown = await one_run(ui, args.shots, busy_person=not args.idle,
                                    heartbeat_ms=args.heartbeat_ms, why_ms=args.why, cpu=cpu)
        used = cpu.stop()
        renderer = ui.session.services.renderer
        print(f"{args.shots} shots, {renderer.max_in_flight} in flight at most, "
              f"{'nobody' if args.idle else 'a person'} scrolling and typing meanwhile, "
              f"history {ui.session.services.history.kind}")
        print(f"  heartbeat ({args.heartbeat_ms} ms timer) gaps: max {max(gaps):.1f} ms, "
              f"p99 {pct(gaps, 99):.1f} ms, p95 {pct(gaps, 95):.1f} ms, "
              f"median {statistics.median(gaps):.1f} ms ({len(gaps)} ticks)")
        if shown:
            print(f"  landed (or its card asking, if later) -> thumbnail in the gallery: "
                  f"median {statistics.median(shown):.0f} ms, p95 {pct(shown, 95):.0f} ms, "
                  f"max {max(shown):.0f} ms ({len(shown)} of {args.shots} shots decoded: "
                  "off-screen cards ask for none)")
        print(f"  CPU during the run: {used}")

        if args.memory_shots:
            state.update(shots=args.memory_shots, low=0.05, high=0.6)
            gaps, _ = await one_run(ui, args.memory_shots, busy_person=False,
                                    heartbeat_ms=args.heartbeat_ms, why_ms=args.why)
            await asyncio.sleep(0.5)
            thumbnails = ui.thumbnails
            print(f"{args.memory_shots} shots in the gallery: resident memory {rss_mb():.0f} MB "
                  f"(window idle before: {base_rss:.0f} MB); heartbeat max {max(gaps):.1f} ms, "
                  f"p99 {pct(gaps, 99):.1f} ms, p95 {pct(gaps, 95):.1f} ms; "
                  f"{getattr(thumbnails, 'cached', '?')} thumbnails decoded "
                  f"({getattr(thumbnails, 'cached_bytes', 0) / 2**20:.0f} MB)")
        await ui.aclose()

    if args.soak:
        took = soak(args.soak)
        print(f"soak: {args.soak} Qt calls returning None under the qasync loop: no crash "
              f"({took:.1f} s)")


def history_pid(history) -> int | None:
    """The process id of the embedded history server when it runs in a process of its own."""
    history = getattr(history, "store", history)  # the store behind a thread of its own
    server = getattr(history, "server", None)
    pid = getattr(server, "pid", None)
    return pid if isinstance(pid, int) and pid != os.getpid() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shots", type=int, default=200)
    parser.add_argument("--heartbeat-ms", type=int, default=5,
                        help="interval of the GUI thread's heartbeat timer")
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--memory-shots", type=int, default=500)
    parser.add_argument("--soak", type=int, default=300_000)
    parser.add_argument("--history", choices=("embedded", "memory"), default="embedded",
                        help="memory: isolate the window from the embedded database's cost")
    parser.add_argument("--idle", action="store_true", help="nobody scrolls or types")
    parser.add_argument("--no-thumbnails", action="store_false", dest="thumbnails",
                        help="decode no shot image (isolate the window from decoding)")
    parser.add_argument("--why", type=float, metavar="MS",
                        help="sample the GUI thread and say what it did in gaps over MS")
    parser.add_argument("--first-window", type=int, default=5, metavar="RUNS",
                        help="start the app this many times for the first-window time (0: skip)")
    parser.add_argument("--skip-first-window", action="store_const", const=0,
                        dest="first_window", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import PySide6

    print(f"PySide6 {PySide6.__version__}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"platform {os.environ.get('QT_QPA_PLATFORM')}")
    if args.first_window:
        print(first_window_figures(args.first_window))
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setQuitOnLastWindowClosed(False)
    run_on_qt(app, bench(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
