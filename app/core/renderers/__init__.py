"""Renderers turn one shot into one image in the blob store.

Implementations: ``draft`` (offline, Pillow panels, the embedded default) and
the RunPod shot worker. The key of an image is always
``runs/<run_id>/shots/<shot_id>/<attempt>.png``, whoever draws it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from app.core import frame
from app.core.models import ImageRef, Shot


def shot_key(run_id: str, shot_id: str, attempt: int) -> str:
    return f"runs/{run_id}/shots/{shot_id}/{attempt}.png"


@dataclass(frozen=True, slots=True)
class RenderRequest:
    shot: Shot
    scene_heading: str
    attempt: int
    width: int
    height: int
    negative_prompt: str = ""
    # A job submitted by an earlier process for this attempt: poll it, don't pay again.
    resume_job_id: str | None = None
    # Called with the remote job id the moment it exists, so it is persisted at once.
    on_job: Callable[[str], Awaitable[None]] | None = None
    # Asked when the render is cancelled: True means leave the remote job running (the
    # run was detached to be resumed later), False or None means cancel it too.
    keep_job: Callable[[], bool] | None = None

    def keeps_job(self) -> bool:
        return self.keep_job is not None and self.keep_job()

    @property
    def key(self) -> str:
        return shot_key(self.shot.run_id, self.shot.shot_id, self.attempt)


@dataclass(frozen=True, slots=True)
class RenderResult:
    image: ImageRef
    timings: dict[str, float] = field(default_factory=dict)
    job_id: str | None = None
    model: str = ""


@runtime_checkable
class Renderer(Protocol):
    name: str

    def size_for(self, aspect: str) -> tuple[int, int]:
        """The width and height this renderer draws a frame of ``aspect`` at (one of
        ``app.core.frame.ASPECTS``; ``AspectError`` for another)."""
        ...

    async def render_shot(self, request: RenderRequest) -> RenderResult:
        """Render one shot. Raises ``RenderError`` (``retryable`` says if another try may work).

        Cancelling the awaiting task cancels the remote job, if there is one, unless
        ``request.keeps_job()`` says the run was detached.
        """
        ...

    async def aclose(self) -> None: ...


def size_for(renderer: object, aspect: str) -> tuple[int, int]:
    """``renderer.size_for(aspect)``; a renderer without one (a test double) draws at the
    draft size of ``aspect``."""
    sized = getattr(renderer, "size_for", None)
    return sized(aspect) if callable(sized) else frame.draft_size(aspect)
