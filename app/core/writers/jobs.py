"""Writer jobs recorded as they are submitted, so a restart polls them instead of paying again.

A writer stage on RunPod is one or more cloud jobs (a script, planning batches, repairs).
The pipeline opens ``recording_jobs(run.writer_jobs, save)`` around a writer stage; the
RunPod transport then

- asks ``resumable(key)`` before submitting: a job an earlier process submitted for the
  very same request (same key) is polled instead (and submitted again only after a 404);
- calls ``await record(key, job_id)`` as soon as RunPod returns a new job's id, which
  stores it in the run and writes it to history at once.

The key is a digest of the job input: the writer's requests are deterministic for a run
(its seed, idea, script and the replies already received), so a resumed stage asks the
same requests in the same order and finds its jobs again. A context variable rather than
one more parameter through every writer, like ``app.core.metering``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any


def request_key(job_input: Any) -> str:
    """A short stable digest of a job input (canonical JSON)."""
    text = json.dumps(job_input, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class JobLog:
    def __init__(self, known: MutableMapping[str, str], save: Callable[[], Awaitable[None]],
                 keep: Callable[[], bool] | None = None) -> None:
        self.known = known
        self._save = save
        self._keep = keep
        self._resumable = dict(known)  # from earlier processes, each to be polled once

    def keeps_jobs(self) -> bool:
        """True when a cancelled stage should leave its job running (the app is closing
        and the run is kept for ``resume``), rather than cancel it."""
        return self._keep is not None and self._keep()

    def resumable(self, key: str) -> str | None:
        """The id of the job an earlier process submitted for this request (once)."""
        return self._resumable.pop(key, None)

    async def record(self, key: str, job_id: str) -> None:
        self.known[key] = job_id
        await self._save()


_current: ContextVar[JobLog | None] = ContextVar("storyreel_writer_jobs", default=None)


@contextmanager
def recording_jobs(known: MutableMapping[str, str], save: Callable[[], Awaitable[None]],
                   keep: Callable[[], bool] | None = None) -> Iterator[JobLog]:
    log = JobLog(known, save, keep)
    token = _current.set(log)
    try:
        yield log
    finally:
        _current.reset(token)


def current_log() -> JobLog | None:
    return _current.get()
