"""What the cloud jobs of a stage cost, gathered where the jobs end.

The pipeline opens a meter around a writer stage; whatever RunPod job finishes
inside it (in that task or a task it starts) is counted: GPU time paid for
(``executionTime``) and time queued (``delayTime``). A context variable rather
than one more parameter through every writer: writers that run no cloud jobs
need not know about it, and concurrent runs each see their own meter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Meter:
    jobs: int = 0
    gpu_s: float = 0.0
    queue_s: float = 0.0


_current: ContextVar[Meter | None] = ContextVar("storyreel_meter", default=None)


@contextmanager
def metering() -> Iterator[Meter]:
    """Count the jobs that end inside the ``with`` block."""
    meter = Meter()
    token = _current.set(meter)
    try:
        yield meter
    finally:
        _current.reset(token)


def record_job(*, gpu_s: float | None, queue_s: float | None) -> None:
    """A cloud job ended (however it ended: failed jobs are billed too)."""
    meter = _current.get()
    if meter is None:
        return
    meter.jobs += 1
    meter.gpu_s += gpu_s or 0.0
    meter.queue_s += queue_s or 0.0
