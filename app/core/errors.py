"""The small typed hierarchy of errors the core raises.

Every message is written for the person using the app: what failed, why, and
where it helps, what to do. Messages never carry secrets.
"""

from __future__ import annotations

from app.core.urls import redact


class StoryreelError(Exception):
    """Base of every error the core raises on purpose.

    Every URL in its text is reduced to scheme, host and port (``urls.redact``):
    a message built from a server's answer or a library's error cannot carry a
    password, path or query into what is shown, logged or stored on a run.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class ConfigError(StoryreelError):
    """A setting is malformed or inconsistent. The message names the variable."""


class IdeaError(StoryreelError):
    """An idea (typed or from a file) cannot be used. The message is one line."""


class StorageError(StoryreelError):
    """A blob could not be written, read or found."""


class DiskError(StorageError):
    """The disk refused a write: full, over quota, read-only, or not ours to write.

    No shot or export is at fault, so nothing is retried: a run stops at the first
    one (see ``Pipeline``). ``path`` is the folder that could not be written.
    """

    def __init__(self, message: str, *, path: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


class HistoryError(StoryreelError):
    """The history store failed or is unavailable."""


class RunNotFound(HistoryError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run with id {run_id!r} in history")
        self.run_id = run_id


class StageError(StoryreelError):
    """A writer stage (script or scene plan) failed for good."""


class RenderError(StoryreelError):
    """A shot could not be rendered.

    ``retryable`` tells the pipeline whether another attempt may succeed (a
    failed or timed-out job, a network error) or not (a cancelled job, a
    rejected request).
    """

    def __init__(self, message: str, *, retryable: bool = True, gpu_s: float = 0.0) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.gpu_s = gpu_s  # GPU time the failed attempt was billed for, when known


class RemoteError(StoryreelError):
    """A remote service answered with an error, or did not answer.

    ``url`` (a URL, or a label such as "RunPod endpoint X") and ``detail`` are
    kept with every URL in them reduced to its display form (scheme, host and
    port: ``urls.redact``), so neither the message nor the attributes can carry
    a password, path or query.
    """

    def __init__(self, status: int | None, url: str, detail: str) -> None:
        url, detail = redact(url), redact(detail)
        where = f" ({status})" if status is not None else ""
        super().__init__(f"{url}{where}: {detail}")
        self.status = status
        self.url = url
        self.detail = detail
