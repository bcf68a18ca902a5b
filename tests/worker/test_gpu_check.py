"""``packaging/worker/gpu_check.py --tiny --device cpu``: the GPU backend's own code
(``app.worker.gpu``: loading from a diffusers folder, placement, group offloading,
rendering) and the handler's async path, run on a tiny random FLUX on the CPU.

It needs torch, diffusers, transformers and accelerate, which live in the worker's venv
(``.venv-worker``, CPU torch; ``make test`` builds it and names its interpreter in
``STORYREEL_WORKER_PYTHON``), not in the desktop's.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.integration.support import REPO

WORKER_PYTHON = os.environ.get("STORYREEL_WORKER_PYTHON")
pytestmark = pytest.mark.skipif(
    not WORKER_PYTHON,
    reason="STORYREEL_WORKER_PYTHON is not set: the GPU backend needs torch and diffusers "
           "from the worker's venv; run `make test` (it builds .venv-worker)")


def test_the_gpu_check_runs_the_gpu_backend_on_a_tiny_random_flux(tmp_path):
    assert WORKER_PYTHON is not None
    done = subprocess.run(
        [WORKER_PYTHON, str(REPO / "packaging/worker/gpu_check.py"), "--tiny", "--device", "cpu",
         "--folder", str(tmp_path / "flux"), "--repeats", "1", "--shots", "2",
         "--upload-ms", "10"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={k: v for k, v in os.environ.items() if not k.startswith(("R2_", "RUNPOD_"))})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = dict((line[:34].strip(), line[34:].strip())
                 for line in done.stdout.splitlines() if len(line) > 34)
    assert lines["configuration"] == "tiny (random)"
    assert lines["bf16: load"].endswith("placement gpu, limits 2.36 MP / 8 steps")
    assert lines["bf16: 256x256, 4 steps"].endswith("s (median of 1)")
    assert lines["2 shots, two in flight"].endswith("s (upload stand-in 10 ms)")
    assert lines["offload (CPU): load"].endswith("placement offload, limits 1.05 MP / 8 steps")
    assert lines["offload (CPU): 256x256, 4 steps"].endswith("s (median of 1)")
    assert lines["fp8"] == "skipped: needs a CUDA GPU"
    assert lines["result"] == "ok"
    assert (tmp_path / "flux" / "model_index.json").is_file()


PLACEMENT_CHECK = """
from app.worker.gpu import choose_placement, fp8_config
from torchao.quantization import (Float8DynamicActivationFloat8WeightConfig,
                                  Float8WeightOnlyConfig)
cases = [({}, 80.0, False), ({}, 48.0, False), ({}, 24.0, False), ({}, 48.0, True),
         ({}, 32.0, True), ({}, 24.0, True), ({"STORYREEL_CPU_OFFLOAD": "1"}, 80.0, False),
         ({"STORYREEL_CPU_OFFLOAD": "0"}, 24.0, False)]
print([choose_placement(env, gib, fp8) for env, gib, fp8 in cases])
print(type(fp8_config((8, 9))).__name__, type(fp8_config((8, 0))).__name__)
"""


def test_placement_follows_the_cards_memory_and_fp8_the_cards_compute():
    assert WORKER_PYTHON is not None
    done = subprocess.run([WORKER_PYTHON, "-c", PLACEMENT_CHECK], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    placements, configs = done.stdout.strip().splitlines()[-2:]
    assert placements == str(["gpu", "gpu", "offload", "gpu", "gpu", "text-offload", "offload",
                              "gpu"])
    assert configs == "Float8DynamicActivationFloat8WeightConfig Float8WeightOnlyConfig"
