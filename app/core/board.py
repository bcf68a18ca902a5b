"""Shaping a board shot by shot, as a storyboard artist does: add, cut, duplicate, move,
reframe and retime shots, and change the frame of the whole board.

Two layers, in the spirit of ``revisions.py``:

- Pure functions on a ``Run`` with its shots (``add_shot``, ``delete_shot``, ...): each
  checks everything first (``EditError``, the run unchanged), then changes the run in
  place and returns a ``BoardChange`` that says what to write.
- ``Board``, the async layer the pipeline builds (``pipeline.board``) and the CLI and the
  window call: it holds the run (one owner at a time), refuses while it renders, applies
  one function, writes the change at once and announces it (``events.BoardChanged``).

Board order is ``(scene, index)``, ties broken by ``shot_id`` (``history.board_order``).
A shot keeps its ``shot_id`` wherever it goes (its images and versions follow it); its
``index`` and ``number`` (``3B``) follow its place, so every scene an edit touches is
numbered again. The order lives in the shot documents only (no array in the run): a
process killed in the middle of a renumber leaves every shot once, and loading orders by
``(scene, index, shot_id)`` and numbers again, so the board still loads.

Changing what a picture shows (description, framing, camera move, cast, its scene) marks
the shot stale with the reason and gives it the ``next_prompt`` the next render uses,
exactly as ``revisions`` does; an edit that brings a shot back to what its image was drawn
from (same prompt, same frame) clears it again, so an undo really undoes. Dialogue,
duration and the note are not in the prompt (``build_shot_prompt``): changing them leaves
the image current. A new shot has no image: it is stale ("new shot") until drawn, so
``regenerate --stale`` draws it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.core import events as ev
from app.core import frame, timing
from app.core import shot_fields as fields
from app.core.history import HistoryStore, board_order
from app.core.models import (
    Character,
    Run,
    Scene,
    Shot,
    ShotPlan,
    ShotType,
    derive_seed,
    shot_number,
    utcnow,
)
from app.core.prompts import build_shot_prompt, location, look_line, scene_line
from app.core.revisions import EditError, words
from app.core.shot_fields import parse_framing
from app.core.styles import resolve_style

MAX_SHOTS_PER_SCENE = 24 * 25  # numbers up to 600 shots a scene stay two letters long

NEW_SHOT = "new shot, not drawn yet"
FROM_DIALOGUE = "auto"
"""``set_shot(duration_s=FROM_DIALOGUE)``: forget the artist's duration, time the shot by
its dialogue again (``timing.shot_duration``)."""


@dataclass
class BoardChange:
    """What one edit changed: the shots to write (new or changed, board order), the ids of
    shots deleted (and the shots themselves, for an undo), the ids of the shots the edit
    left stale, the shot acted on, and the run's own fields that changed."""

    saved: list[Shot] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    shot_id: str | None = None
    run_fields: tuple[str, ...] = ()
    removed_shots: list[Shot] = field(default_factory=list)


# The pure edits.


def add_shot(run: Run, *, after: str | None = None, scene: int | None = None, text: str,
             framing: str | ShotType | None = None, camera: str | None = None,
             dialogue: str | None = None, characters: Iterable[str] | None = None,
             duration_s: float | None = None, note: str = "") -> BoardChange:
    """A new shot right after the shot ``after``, or at the start of scene ``scene``. Its
    cast, when not given, is the run's characters named in ``text``. It has no image: it
    is stale until drawn (``regenerate --stale``)."""
    where = _place_of(run, after, scene, moving=None)
    description = words(text, "a shot's description", fields.MAX_DESCRIPTION_WORDS)
    shot_type = parse_framing(framing) if framing is not None else ShotType.MEDIUM
    move = fields.camera_move(camera) if camera is not None else "static"
    spoken = fields.dialogue(dialogue) if dialogue is not None else ""
    cast = (fields.cast(_cast_of(run), characters) if characters is not None
            else fields.named_in(_cast_of(run), description))
    seconds = timing.check_duration(duration_s) if duration_s is not None else None
    remark = fields.note(note)
    shot_id = new_shot_id(run)
    shot = Shot(run_id=run.run_id, shot_id=shot_id, scene=where[0], index=1,
                number=shot_number(where[0], 1), shot_type=shot_type, camera=move,
                description=description, characters=cast, dialogue=spoken,
                seed=derive_seed(run.seed, shot_id), duration_s=seconds, note=remark,
                stale=NEW_SHOT)
    shot.prompt = _picture(run, shot)
    return _insert(run, shot, where)


def duplicate_shot(run: Run, shot_id: str) -> BoardChange:
    """A copy of the shot right after it, with a new id and a seed of its own (a variation,
    not the same picture), its plan, duration and note. No image is copied: the copy is
    stale until drawn. A prompt edited by hand is copied as it is."""
    source = _shot(run, shot_id)
    new_id = new_shot_id(run)
    copy = Shot(run_id=run.run_id, shot_id=new_id, scene=source.scene, index=source.index,
                number=source.number, shot_type=source.shot_type, camera=source.camera,
                description=source.description, characters=list(source.characters),
                dialogue=source.dialogue, prompt=source.next_prompt or source.prompt,
                seed=derive_seed(run.seed, new_id), duration_s=source.duration_s,
                note=source.note, stale=NEW_SHOT)
    return _insert(run, copy, _place_of(run, shot_id, None, moving=None))


def delete_shot(run: Run, shot_id: str) -> BoardChange:
    """Take the shot off the board; the rest of its scene is numbered again. Its images stay
    in storage (``restore_shot`` puts it back with them)."""
    shot = _shot(run, shot_id)
    run.shots = [s for s in run.shots if s.shot_id != shot_id]
    renumbered = _renumber(run, {shot.scene})
    run.tally()
    return BoardChange(saved=renumbered, removed=[shot_id], shot_id=shot_id,
                       run_fields=_COUNTS, removed_shots=[shot])


def restore_shot(run: Run, shot: Shot, *, after: str | None = None,
                 scene: int | None = None) -> BoardChange:
    """Put a deleted shot back, with its id, images and versions (an undo of a delete):
    after the shot ``after``, at the start of scene ``scene``, or, with neither, at its own
    place (before the shot that now has its number)."""
    if shot.run_id != run.run_id:
        raise EditError(f"shot {shot.shot_id} belongs to run {shot.run_id}, not {run.run_id}")
    if any(s.shot_id == shot.shot_id for s in run.shots):
        raise EditError(f"shot {shot.shot_id} is on the board already")
    if after is None and scene is None:
        _scene(run, shot.scene)
        members = _room(run, shot.scene, None)
        where = (shot.scene, min(max(shot.index - 1, 0), len(members)))
    else:
        where = _place_of(run, after, scene, moving=None)
    back = shot.model_copy(deep=True)
    before = _looks(run, back)
    back.scene = where[0]
    stale = _repicture(run, back, before, _moved_reason(shot.scene, where[0]))
    change = _insert(run, back, where)
    if stale and back.shot_id not in change.stale:
        change.stale.append(back.shot_id)
    return change


def move_shot(run: Run, shot_id: str, *, after: str | None = None,
              scene: int | None = None) -> BoardChange:
    """Move the shot right after the shot ``after`` (in that shot's scene), or to the start
    of scene ``scene``. A shot moved to another scene shows another place: it goes stale."""
    shot = _shot(run, shot_id)
    where = _place_of(run, after, scene, moving=shot_id)
    old_scene = shot.scene
    before = _looks(run, shot)
    run.shots = [s for s in run.shots if s.shot_id != shot_id]
    shot.scene = where[0]
    stale = _repicture(run, shot, before, _moved_reason(old_scene, where[0]))
    change = _insert(run, shot, where, also={old_scene})
    change.stale = [shot_id] if stale else []
    return change


def set_shot(run: Run, shot_id: str, *, description: str | None = None,
             framing: str | ShotType | None = None, camera: str | None = None,
             dialogue: str | None = None, characters: Iterable[str] | None = None,
             duration_s: float | str | None = None, note: str | None = None) -> BoardChange:
    """Change any of a shot's fields (None: leave it). ``duration_s=FROM_DIALOGUE`` times
    the shot by its dialogue again. A change to what the picture shows makes it stale; a
    change back to what its image was drawn from makes it current again."""
    shot = _shot(run, shot_id)
    changes: dict[str, Any] = {}
    if description is not None:
        changes["description"] = words(description, "a shot's description",
                                       fields.MAX_DESCRIPTION_WORDS)
    if framing is not None:
        changes["shot_type"] = parse_framing(framing)
    if camera is not None:
        changes["camera"] = fields.camera_move(camera)
    if characters is not None:
        changes["characters"] = fields.cast(_cast_of(run), characters)
    if dialogue is not None:
        changes["dialogue"] = fields.dialogue(dialogue)
    if duration_s is not None:
        changes["duration_s"] = (None if duration_s == FROM_DIALOGUE
                                 else timing.check_duration(duration_s))
    if note is not None:
        changes["note"] = fields.note(note)
    if not changes:  # every field given is in it
        raise EditError("nothing to change: give a description, framing, camera move, "
                        "dialogue, characters, duration or note")
    changed = {k: v for k, v in changes.items() if getattr(shot, k) != v}
    if not changed:
        return BoardChange(shot_id=shot_id, stale=[shot_id] if shot.stale else [])
    before = _looks(run, shot)
    for name, value in changed.items():
        setattr(shot, name, value)
    pictured = [_FIELD_WORDS[k] for k in _FIELD_WORDS if k in changed]
    reason = f"its {_and(pictured)} changed" if pictured else ""
    stale = _repicture(run, shot, before, reason) if pictured else bool(shot.stale)
    return BoardChange(saved=[shot], shot_id=shot_id, stale=[shot_id] if stale else [])


def set_aspect(run: Run, aspect: str, size: tuple[int, int]) -> BoardChange:
    """Give the board another frame: ``aspect`` one of ``frame.ASPECTS``, ``size`` the
    (width, height) the run's renderer draws it at. Every shot with an image of another
    frame goes stale; one whose image already has this frame (a change undone) does not."""
    try:
        label = frame.parse_aspect(aspect)
    except frame.AspectError as exc:
        raise EditError(str(exc)) from None
    width, height = fields.frame_size(size)
    if (label, width, height) == (run.aspect, run.width, run.height):
        return BoardChange(stale=[s.shot_id for s in run.shots if s.stale])
    run.aspect, run.width, run.height = label, width, height
    saved, stale = [], []
    for shot in board_order(run.shots):
        if shot.image is None:
            continue
        was = shot.stale
        if _same_frame(run, shot):
            if shot.stale and not shot.next_prompt and shot.prompt:
                shot.stale = None  # only its frame was out of date, and it is not any more
        elif not shot.stale:
            shot.stale = f"the frame changed to {label}"
        if shot.stale != was:
            saved.append(shot)
        if shot.stale:
            stale.append(shot.shot_id)
    return BoardChange(saved=saved, stale=stale, run_fields=("aspect", "width", "height"))


def new_shot_id(run: Run) -> str:
    """A new shot id: ``n`` + the time in milliseconds (base 36) + 4 random hex digits. Never
    one of the run's (checked), and never an id a deleted shot had (those are older: time
    only moves on), since a deleted shot's images stay under its id in storage. Letters and
    digits only: it goes into storage keys (``runs/<run>/shots/<shot>/<attempt>.png``)."""
    taken = {s.shot_id for s in run.shots}
    while True:
        candidate = f"n{_base36(int(time.time() * 1000))}{secrets.token_hex(2)}"
        if candidate not in taken:
            return candidate


# The async layer: what the CLI and the window call (``pipeline.board``).


@dataclass
class BoardEdit:
    """The result of a board edit: the run as saved (``run.shots`` in board order), the
    shot acted on, the shots the edit left stale, the ids of the shots taken off."""

    run: Run
    shot_id: str | None
    stale: list[str]
    removed: list[str]
    removed_shots: list[Shot] = field(default_factory=list)
    """The shots deleted, as they were (with images and versions): ``restore_shot`` of one
    is the undo of its deletion."""


class Board:
    """Board edits on runs in history. Built by ``Pipeline`` (``pipeline.board``) with what
    it needs: the history, the pipeline's event emitter, the renderer's size for an aspect,
    how to hold a run (``take``/``let_go``: one owner at a time) and ``refuse`` (raises
    ``EditError`` while the run is rendering here: an edit then is refused, never lost)."""

    def __init__(self, history: HistoryStore, *, emit: Callable[[ev.Event], None],
                 size_for: Callable[[str], tuple[int, int]],
                 take: Callable[[str], Awaitable[None]],
                 let_go: Callable[[str], Awaitable[None]],
                 refuse: Callable[[Run], None]) -> None:
        self.history = history
        self._emit = emit
        self._size_for = size_for
        self._take = take
        self._let_go = let_go
        self._refuse = refuse
        # One edit at a time per run in this process (the window may send the next before
        # the last is written): each edit loads what the one before it saved.
        self._locks: dict[str, asyncio.Lock] = {}

    async def add_shot(self, run_id: str, *, after: str | None = None,
                       scene: int | None = None, text: str, framing: str | None = None,
                       camera: str | None = None, dialogue: str | None = None,
                       characters: Iterable[str] | None = None,
                       duration_s: float | None = None, note: str = "") -> BoardEdit:
        return await self._edit(run_id, lambda run: add_shot(
            run, after=after, scene=scene, text=text, framing=framing, camera=camera,
            dialogue=dialogue, characters=characters, duration_s=duration_s, note=note))

    async def delete_shot(self, run_id: str, shot_id: str) -> BoardEdit:
        return await self._edit(run_id, lambda run: delete_shot(run, shot_id))

    async def duplicate_shot(self, run_id: str, shot_id: str) -> BoardEdit:
        return await self._edit(run_id, lambda run: duplicate_shot(run, shot_id))

    async def move_shot(self, run_id: str, shot_id: str, *, after: str | None = None,
                        scene: int | None = None) -> BoardEdit:
        return await self._edit(run_id, lambda run: move_shot(run, shot_id, after=after,
                                                              scene=scene))

    async def set_shot(self, run_id: str, shot_id: str, *, description: str | None = None,
                       framing: str | ShotType | None = None, camera: str | None = None,
                       dialogue: str | None = None, characters: Iterable[str] | None = None,
                       duration_s: float | str | None = None,
                       note: str | None = None) -> BoardEdit:
        """As ``set_shot``: None leaves a field; ``duration_s=FROM_DIALOGUE`` forgets the
        artist's duration."""
        return await self._edit(run_id, lambda run: set_shot(
            run, shot_id, description=description, framing=framing, camera=camera,
            dialogue=dialogue, characters=characters, duration_s=duration_s, note=note))

    async def set_aspect(self, run_id: str, aspect: str) -> BoardEdit:
        """Change the run's frame; the size is the renderer's for that aspect."""
        try:
            label = frame.parse_aspect(aspect)
        except frame.AspectError as exc:
            raise EditError(str(exc)) from None
        size = self._size_for(label)
        return await self._edit(run_id, lambda run: set_aspect(run, label, size))

    async def restore_shot(self, run_id: str, shot: Shot, *, after: str | None = None,
                           scene: int | None = None) -> BoardEdit:
        return await self._edit(run_id, lambda run: restore_shot(run, shot, after=after,
                                                                 scene=scene))

    async def _edit(self, run_id: str, apply: Callable[[Run], BoardChange]) -> BoardEdit:
        lock = self._locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            await self._take(run_id)
            try:
                run = await self.history.get_run(run_id)
                self._refuse(run)
                change = apply(run)  # EditError before anything is written
                await self._save(run, change)
            finally:
                await self._let_go(run_id)
        run.shots = board_order(run.shots)
        edit = BoardEdit(run=run, shot_id=change.shot_id, stale=list(change.stale),
                         removed=list(change.removed), removed_shots=change.removed_shots)
        if change.saved or change.removed or change.run_fields:
            self._emit(ev.BoardChanged(run_id, run.model_copy(
                update={"shots": [s.model_copy() for s in run.shots]}), change.shot_id,
                tuple(change.stale), tuple(change.removed)))
        return edit

    async def _save(self, run: Run, change: BoardChange) -> None:
        """Deletions first, then shots (the new or moved one first, then those renumbered),
        then the run's fields. A refused write raises ``HistoryError``: the edit is not kept,
        and whatever was written loads as a whole board (see the module's note)."""
        for shot_id in change.removed:
            await self.history.delete_shot(run.run_id, shot_id)
        for shot in change.saved:
            shot.updated_at = utcnow()
            await self.history.upsert_shot(shot)
        names = set(change.run_fields)
        if change.saved or change.removed:
            run.index_prompts()
            names.add("prompt_words")
        if names:
            run.updated_at = utcnow()
            await self.history.update_run(
                run.run_id, run.model_dump(mode="json", include={*names, "updated_at"}))


# Places and numbers.

_COUNTS = ("shot_count", "shots_done", "shots_failed", "gpu_seconds", "queue_seconds")
_FIELD_WORDS = {"description": "description", "shot_type": "framing",
                "camera": "camera move", "characters": "cast"}


def _place_of(run: Run, after: str | None, scene: int | None, *,
              moving: str | None) -> tuple[int, int]:
    """(scene, position among the other shots of that scene) for ``after``/``scene``."""
    if (after is None) == (scene is None):
        raise EditError("say where: after a shot (--after SHOT_ID) or at a scene's start "
                        "(--scene N), one of the two")
    if after is not None:
        if after == moving:
            raise EditError(f"shot {after} can't go after itself")
        anchor = _shot(run, after)
        members = _room(run, anchor.scene, moving)
        return anchor.scene, next(i for i, s in enumerate(members, 1)
                                  if s.shot_id == anchor.shot_id)
    assert scene is not None
    _scene(run, scene)
    _room(run, scene, moving)
    return scene, 0


def _room(run: Run, scene: int, moving: str | None) -> list[Shot]:
    """The other shots of ``scene``, once it is sure one more fits."""
    members = [s for s in _members(run, scene) if s.shot_id != moving]
    if len(members) >= MAX_SHOTS_PER_SCENE:
        raise EditError(f"scene {scene} has {len(members)} shots, the most a scene can have")
    return members


def _insert(run: Run, shot: Shot, where: tuple[int, int], *,
            also: set[int] | None = None) -> BoardChange:
    """Put ``shot`` (not on the board) at ``where``, number the scenes touched, tally."""
    scene, position = where
    members = _members(run, scene)
    shot.scene = scene
    order = [*members[:position], shot, *members[position:]]
    renumbered = _number(order)
    run.shots = [s for s in run.shots if s.scene != scene]
    for other in sorted((also or set()) - {scene}):
        renumbered += _number(_members(run, other))
    run.shots = board_order([*run.shots, *order])
    run.tally()
    saved = [shot, *[s for s in renumbered if s is not shot]]
    return BoardChange(saved=saved, shot_id=shot.shot_id,
                       stale=[shot.shot_id] if shot.stale else [], run_fields=_COUNTS)


def _renumber(run: Run, scenes: set[int]) -> list[Shot]:
    """Number the shots of ``scenes`` 1, 2, ... in board order; returns those changed."""
    return [s for scene in sorted(scenes) for s in _number(_members(run, scene))]


def _number(order: list[Shot]) -> list[Shot]:
    """Number ``order`` (the shots of one scene) 1, 2, ...; returns those whose index or
    number changed."""
    changed = []
    for index, shot in enumerate(order, 1):
        number = shot_number(shot.scene, index)
        if (shot.index, shot.number) != (index, number):
            shot.index, shot.number = index, number
            changed.append(shot)
    return changed


def _members(run: Run, scene: int) -> list[Shot]:
    return board_order([s for s in run.shots if s.scene == scene])


def _shot(run: Run, shot_id: str) -> Shot:
    try:
        return run.shot(shot_id)
    except KeyError:
        raise EditError(f"run {run.run_id} has no shot {shot_id!r}") from None


def _scene(run: Run, index: int) -> Scene:
    scene = next((s for s in run.scenes if s.index == index), None)
    if scene is None:
        raise EditError(f"this run has no scene {index} (it has {len(run.scenes)})")
    if any(p.scene.index == index for p in run.held_plans):
        raise EditError(f"scene {index} is not storyboarded yet: storyboard it first "
                        f"(storyreel resume {run.run_id} --scenes {index})")
    return scene


# Pictures and staleness (as ``revisions._replan`` does for scenes and looks).


def _cast_of(run: Run) -> list[Character]:
    return run.script.characters if run.script else []


def _plan(shot: Shot) -> ShotPlan:
    return ShotPlan(shot_type=shot.shot_type, camera=shot.camera,
                    description=shot.description, characters=shot.characters,
                    dialogue=shot.dialogue)


def _scene_of(run: Run, shot: Shot) -> Scene:
    scene = next((s for s in run.scenes if s.index == shot.scene), None)
    return scene or Scene(index=shot.scene, heading="")


def _picture(run: Run, shot: Shot) -> str:
    """The prompt the shot's plan, scene, cast and style make (``build_shot_prompt``)."""
    return build_shot_prompt(_plan(shot), _scene_of(run, shot), _cast_of(run),
                             resolve_style(run.style).prompt)


def _pieces(run: Run, shot: Shot) -> list[str]:
    """The parts of a prompt a board edit can change, as they appear in it: the framing
    line, the place, the description with the looks after it, the scene's summary."""
    looks = {c.name.casefold(): c for c in _cast_of(run)}
    present = [looks[n.casefold()] for n in shot.characters if n.casefold() in looks]
    scene = _scene_of(run, shot)
    described = ". ".join(p for p in (" ".join(shot.description.split()).rstrip(".:;, "),
                                      *(look_line(c) for c in present)) if p)
    return [f"{shot.shot_type.label} shot, camera {shot.camera}", location(scene.heading),
            described, scene_line(scene)]


def _looks(run: Run, shot: Shot) -> tuple[str, list[str]]:
    """The shot's prompt as its plan builds it, and that prompt's parts: taken before an
    edit, for ``_repicture``."""
    return _picture(run, shot), _pieces(run, shot)


def _repicture(run: Run, shot: Shot, before: tuple[str, list[str]], reason: str) -> bool:
    """After an edit changed the shot's plan or scene (``before``: ``_looks`` of the shot
    as it was), give it the prompt its next render uses and say whether it is stale. A
    prompt a person edited by hand keeps their words: only the changed parts are swapped."""
    built, old = before
    after = _picture(run, shot)
    planned = shot.next_prompt or shot.prompt
    if after == built:
        return bool(shot.stale)
    if not planned or planned == built:
        target = after
    else:  # edited by hand: swap the parts that changed
        target = planned
        for was, now in zip(old, _pieces(run, shot), strict=True):
            if was and was != now and was in target:
                target = target.replace(was, now)
    if shot.image is None:  # nothing drawn to be out of date: the plan is the prompt
        shot.prompt, shot.next_prompt = target, None
        return bool(shot.stale)
    if target == shot.prompt:
        shot.next_prompt = None
        if _same_frame(run, shot):
            shot.stale = None
        else:
            shot.stale = f"the frame changed to {run.aspect}"
    else:
        shot.next_prompt, shot.stale = target, reason
    return bool(shot.stale)


def _same_frame(run: Run, shot: Shot) -> bool:
    if shot.image is None:
        return True
    return frame.aspect_of(shot.image.width, shot.image.height) == run.aspect


def _moved_reason(old_scene: int, new_scene: int) -> str:
    return f"moved from scene {old_scene} to scene {new_scene}"


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


