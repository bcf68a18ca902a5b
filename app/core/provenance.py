"""Provenance: what made an image, carried inside the PNG file itself.

An image copied out of Storyreel (dragged into a deck, attached to a mail)
still says which run, scene, shot and attempt it is, and the prompt, seed,
model and timings that made it. Written as PNG text chunks, all iTXt (UTF-8,
so a prompt in any language survives; long values compressed):

- ``storyreel``: the whole record as JSON (``schema`` 1), what ``read_provenance`` reads;
- ``Description`` (the prompt), ``Source`` (the model), ``Software``,
  ``Creation Time`` and a one-line ``Comment``: PNG's registered keywords, so
  ordinary image tools show them too (like ComfyUI's ``prompt`` or InvokeAI's
  ``invokeai_metadata``, but readable without our code).

The draft renderer encodes them with the image (``png_info``); the cloud shot
worker gets finished PNG bytes from its backend and splices them in
(``embed_chunks``) without decoding or re-encoding the pixels.

Re-saving an image without ``pnginfo=`` drops the chunks; history keeps the
same facts, so the file is a convenience, not the record.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from app import __version__
from app.core.errors import StoryreelError
from app.core.models import Shot, utcnow

KEY = "storyreel"
SCHEMA = 1
_COMPRESS_OVER = 256  # characters; shorter values are stored plain
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


def now_iso() -> str:
    """The ``created_at`` of an image made now: ISO 8601, UTC, to the second."""
    return utcnow().isoformat(timespec="seconds")


class ProvenanceError(StoryreelError):
    """An image carries a ``storyreel`` chunk that cannot be read."""


@dataclass(frozen=True)
class Provenance:
    run_id: str
    scene: int
    shot_id: str
    attempt: int  # the version of the shot: 1 for its first image, 2 after a regeneration
    prompt: str
    seed: int
    model: str
    shot_number: str = ""
    negative_prompt: str = ""
    width: int = 0
    height: int = 0
    endpoint: str = ""  # the RunPod endpoint id, for cloud images
    job_id: str = ""
    timings: Mapping[str, float] = field(default_factory=dict)
    created_at: str = ""  # ISO 8601, UTC
    software: str = f"Storyreel {__version__}"

    @classmethod
    def for_shot(cls, shot: Shot, *, attempt: int, model: str, negative_prompt: str = "",
                 width: int = 0, height: int = 0, endpoint: str = "", job_id: str = "",
                 timings: Mapping[str, float] | None = None,
                 created_at: str | None = None) -> Provenance:
        return cls(
            run_id=shot.run_id, scene=shot.scene, shot_id=shot.shot_id, attempt=attempt,
            prompt=shot.prompt, seed=shot.seed, model=model, shot_number=shot.number,
            negative_prompt=negative_prompt, width=width, height=height, endpoint=endpoint,
            job_id=job_id, timings=dict(timings or {}),
            created_at=created_at if created_at is not None else now_iso(),
        )


def provenance_chunks(p: Provenance) -> dict[str, str]:
    """The PNG text chunks (keyword -> text) that record ``p``. Pure."""
    record = {"schema": SCHEMA, **asdict(p)}
    record["timings"] = {k: float(v) for k, v in p.timings.items() if math.isfinite(v)}
    number = f"{p.shot_number} ({p.shot_id})" if p.shot_number else p.shot_id
    chunks = {
        KEY: json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
        "Description": p.prompt,
        "Source": p.model,
        "Software": p.software,
        "Comment": f"run {p.run_id}, scene {p.scene}, shot {number}, attempt {p.attempt}, "
                   f"seed {p.seed}",
    }
    if p.created_at:
        chunks["Creation Time"] = p.created_at
    return {k: v for k, v in chunks.items() if v}


def png_info(chunks: Mapping[str, str]) -> PngInfo:
    """A ``PngInfo`` holding ``chunks`` as iTXt, for ``Image.save(..., pnginfo=)``."""
    info = PngInfo()
    for keyword, text in chunks.items():
        info.add_itxt(keyword, text, zip=len(text) > _COMPRESS_OVER)
    return info


def embed_chunks(png: bytes, chunks: Mapping[str, str]) -> bytes:
    """``png`` with ``chunks`` added as iTXt (as ``png_info`` writes them), before its
    first IDAT; text chunks it already had under the same keywords are dropped. The
    image data is copied as it is. Pure. ``ValueError`` when ``png`` is not a PNG."""
    if not png.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG: the signature is missing")
    keywords = {k.encode("latin-1") for k in chunks}
    added = b"".join(struct.pack(">I", len(body)) + cid + body
                     + struct.pack(">I", zlib.crc32(body, zlib.crc32(cid)))
                     for cid, body, _ in png_info(chunks).chunks)
    out, at, inserted = [_PNG_SIGNATURE], len(_PNG_SIGNATURE), False
    while at < len(png):
        if at + 12 > len(png):
            raise ValueError(f"not a PNG: truncated chunk at byte {at}")
        (length,) = struct.unpack(">I", png[at:at + 4])
        cid, end = png[at + 4:at + 8], at + 12 + length
        if end > len(png):
            raise ValueError(f"not a PNG: chunk {cid!r} at byte {at} runs past the end")
        if cid in (b"IDAT", b"IEND") and not inserted:
            out.append(added)
            inserted = True
        if not (cid in _TEXT_CHUNKS and png[at + 8:end - 4].split(b"\0", 1)[0] in keywords):
            out.append(png[at:end])
        at = end
    if not inserted:
        raise ValueError("not a PNG: it has no image data")
    return b"".join(out)


def parse_provenance(chunks: Mapping[str, str]) -> Provenance | None:
    """The ``Provenance`` in a PNG's text chunks; None when there is none. Pure."""
    raw = chunks.get(KEY)
    if raw is None:
        return None
    try:
        record = json.loads(raw)
        if not isinstance(record, dict) or record.get("schema") != SCHEMA:
            raise ValueError(f"unknown schema {record.get('schema')!r}"
                             if isinstance(record, dict) else "not an object")
        known = {f.name for f in fields(Provenance)}
        values: dict[str, Any] = {k: v for k, v in record.items() if k in known}
        values["timings"] = {str(k): float(v) for k, v in (values.get("timings") or {}).items()}
        return Provenance(**values)
    except (ValueError, TypeError) as exc:
        raise ProvenanceError(f"the image's {KEY!r} chunk cannot be read: {exc}") from None


def read_chunks(source: bytes | Path | str | Image.Image) -> dict[str, str]:
    """Every text chunk of a PNG (tEXt, zTXt and iTXt), keyword -> text."""
    if isinstance(source, Image.Image):
        return _texts(source)
    data = io.BytesIO(source) if isinstance(source, bytes) else Path(source)
    with Image.open(data) as image:
        return _texts(image)


def _texts(image: Image.Image) -> dict[str, str]:
    # PNG's ``text`` also reads the chunks after the image data; other formats have none
    return {str(k): str(v) for k, v in (getattr(image, "text", None) or {}).items()}


def read_provenance(source: bytes | Path | str | Image.Image) -> Provenance | None:
    """The provenance a PNG carries (file, bytes or opened image); None when it has none."""
    return parse_provenance(read_chunks(source))
