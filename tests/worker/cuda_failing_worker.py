"""A worker process whose every render fails as torch does on a broken GPU, started by
tests/worker/test_worker_job_loop.py under runpod's own job loop."""

from __future__ import annotations

from app.worker.draft import DraftBackend
from app.worker.handler import main


class AcceleratorError(RuntimeError):
    """Named as torch.AcceleratorError, which torch raises for CUDA errors."""


class CudaFailing(DraftBackend):
    def render(self, **kwargs):
        raise AcceleratorError("CUDA error: an illegal memory access was encountered\n"
                               "CUDA kernel errors might be asynchronously reported")


if __name__ == "__main__":
    main(load=lambda name, env: CudaFailing())
