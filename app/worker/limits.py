"""What one worker renders, by the card it runs on: part of the shot contract.

Every job is first held to the contract's absolute bounds (sides 256 to 2048 in
multiples of 16, 1 to 50 steps; ``app.worker.handler``), then to the limits of
the worker that took it:

| where the model sits | max pixels (w x h) | max steps |
|---|---|---|
| whole on a card of 40 GiB or more (bf16, or fp8) | 4,194,304 (2048 x 2048) | 16 |
| whole on a smaller card (fp8 transformer) | 2,359,296 (1536 x 1536) | 8 |
| offloaded (``STORYREEL_CPU_OFFLOAD``: blocks stream from RAM) | 1,048,576 (1024 x 1024) | 8 |
| draft backend (Pillow, no GPU) | 4,194,304 | 50 |

Pixels bound the activation and VAE memory left beside the weights (the VAE
decodes in tiles above 2 MP); steps bound the time of a job, which must stay well
inside the endpoint's execution timeout (300 s) even when every step streams
the 24 GB transformer over PCIe. FLUX.1-schnell is distilled for 1 to 4 steps:
more only cost time. A job over the limits is refused (``invalid shot input``),
never started. Keep one memory class of GPU per endpoint, or sizes within the
smallest class's limits.
"""

from __future__ import annotations

from dataclasses import dataclass

LARGE_CARD_GIB = 40.0


@dataclass(frozen=True, slots=True)
class Limits:
    max_pixels: int
    max_steps: int
    why: str = ""

    def check(self, width: int, height: int, steps: int) -> str | None:
        """Why a job of this size and steps is refused here, or None."""
        if width * height > self.max_pixels:
            return (f"{width}x{height} is {width * height / 1e6:.2f} MP; this worker ({self.why}) "
                    f"renders at most {self.max_pixels / 1e6:.2f} MP")
        if steps > self.max_steps:
            return f"steps {steps} is more than this worker ({self.why}) takes: at most " \
                   f"{self.max_steps}"
        return None


DRAFT = Limits(max_pixels=2048 * 2048, max_steps=50, why="draft backend")


def limits_for(total_gib: float, *, offloaded: bool, card: str = "") -> Limits:
    """The limits of the GPU backend on a card with ``total_gib`` of memory."""
    name = f"{card}, {total_gib:.0f} GiB" if card else f"{total_gib:.0f} GiB"
    if offloaded:
        return Limits(1024 * 1024, 8, f"{name}, offloaded")
    if total_gib >= LARGE_CARD_GIB:
        return Limits(2048 * 2048, 16, name)
    return Limits(1536 * 1536, 8, name)
