"""The draft backend: a Pillow storyboard panel for the prompt. CPU only, no torch.

For tests and for a CPU endpoint that checks the plumbing (queue, upload,
keys) without a GPU. It draws with the same ``render_panel_png`` as the
desktop's draft renderer; the shot size and camera move are read back from
the start of the prompt (``build_shot_prompt`` writes them there).
"""

from __future__ import annotations

from PIL import Image

from app.core.models import ShotType
from app.core.renderers.panel import PanelSpec, render_panel
from app.worker.limits import DRAFT, Limits

MODEL = "storyreel-draft-panel-1"
_LABELS = sorted(((t.label, t.value) for t in ShotType), key=lambda lv: -len(lv[0]))


def panel_spec(prompt: str, *, width: int, height: int, seed: int) -> PanelSpec:
    """``"close-up shot, camera dolly in. interior, kitchen, day. Mara reads."`` ->
    a panel of a CU with a dolly in, the rest of the prompt under it."""
    head, _, rest = prompt.partition(". ")
    shot_type, camera = "", "static"
    lowered = head.casefold()
    for label, value in _LABELS:
        if lowered.startswith(f"{label} shot"):
            shot_type = value
            break
    if shot_type and ", camera " in head:
        camera = head.split(", camera ", 1)[1].strip() or "static"
    description = rest if shot_type else prompt
    return PanelSpec(width=width, height=height, seed=seed, shot_type=shot_type, number="",
                     heading="", description=description, camera=camera)


class DraftBackend:
    name = "draft"
    model = MODEL
    load_s = 0.0
    limits: Limits = DRAFT

    def render(
        self,
        *,
        prompt: str,
        negative_prompt: str,
        width: int,
        height: int,
        seed: int,
        steps: int,
        guidance: float,
    ) -> Image.Image:
        return render_panel(panel_spec(prompt, width=width, height=height, seed=seed))

    def recover(self) -> None:
        """Nothing to free: no GPU."""
