"""A feature-length board in the window: the filter bar, the scene jump list, thumbnails
decoded for the cards on screen only into a bounded cache, and shots landing by the
hundred announced once a frame without losing one.

The window is the real one (``ui``); its gallery is filled with a board made here, and
the images are real PNG files in the real local store, decoded by the real loader.
"""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image
from PySide6.QtCore import QModelIndex

from app.core.models import ImageRef, Shot, ShotStatus, ShotType, shot_id_for, shot_number
from app.ui.gallery import ShotRole
from app.ui.thumbnails import ThumbnailLoader
from tests.ui.conftest import WAIT_MS, finish

RUN = "run-board"


def board(scenes: int, per_scene: int, status=ShotStatus.QUEUED) -> list[Shot]:
    return [Shot(run_id=RUN, shot_id=shot_id_for(s, i), scene=s, index=i,
                 number=shot_number(s, i), shot_type=ShotType.WIDE,
                 description=f"Shot {i} of scene {s}.", status=status)
            for s in range(1, scenes + 1) for i in range(1, per_scene + 1)]


def png(n: int, size=(64, 36)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (n * 37 % 256, n * 91 % 256, 120)).save(out, "PNG")
    return out.getvalue()


def stored_images(ui, qtbot, count: int, size=(64, 36)) -> list[ImageRef]:
    """``count`` distinct PNGs put in the window's own (local) store."""
    store = ui.session.services.store

    async def put_all() -> list[ImageRef]:
        refs = []
        for n in range(count):
            data = png(n, size)
            key = f"runs/{RUN}/shots/{n:04d}.png"
            await store.put(key, data, "image/png")
            refs.append(ImageRef(store=store.kind, bucket=store.bucket, key=key,
                                 width=size[0], height=size[1], seed=n,
                                 sha256=hashlib.sha256(data).hexdigest(), bytes=len(data)))
        return refs

    return finish(qtbot, put_all())


@pytest.fixture
def view(ui):
    ui.window.resize(1200, 800)
    return ui.window.run_view


def shown_ids(view) -> list[str]:
    """The shots whose cards the gallery shows (rows the filter did not hide)."""
    return [s.shot_id for row, s in enumerate(view.model.shots)
            if not view.gallery.isRowHidden(row)]


def test_the_filter_bar_shows_the_cards_of_a_scene_a_status_or_the_stale_ones(view, qtbot):
    shots = board(3, 4)
    shots[1] = shots[1].model_copy(update={"status": ShotStatus.DONE})
    shots[5] = shots[5].model_copy(update={"status": ShotStatus.DONE, "stale": "scene 2 changed"})
    shots[9] = shots[9].model_copy(update={"status": ShotStatus.FAILED, "error": "boom"})
    view.board_filter.set_headings({1: "INT. LIGHTHOUSE - NIGHT", 2: "EXT. SEA", 3: "EXT. SHORE"})
    view.model.set_shots(RUN, shots)
    bar = view.board_filter
    assert shown_ids(view) == [s.shot_id for s in shots]  # nothing filtered yet
    assert not bar.count.isVisibleTo(bar)
    assert bar.jump.itemText(2) == "Scene 2: EXT. SEA"

    bar.scene.setCurrentIndex(bar.scene.findData(2))  # as a person picks it
    assert shown_ids(view) == ["s02-01", "s02-02", "s02-03", "s02-04"]
    assert bar.count.text() == "4 of 12 shots" and bar.count.isVisibleTo(bar)

    bar.scene.setCurrentIndex(0)
    bar.status.setCurrentIndex(bar.status.findData(ShotStatus.DONE.value))
    assert shown_ids(view) == ["s01-02", "s02-02"]

    bar.status.setCurrentIndex(0)
    bar.stale.setChecked(True)
    assert shown_ids(view) == ["s02-02"]

    assert not view.gallery.grab().isNull()  # hidden cards are not drawn (nor warned of)
    bar.scene.setCurrentIndex(bar.scene.findData(3))  # stale in scene 3: none
    assert shown_ids(view) == []
    assert view.gallery.filtered_empty and bar.count.text() == "0 of 12 shots"

    bar.set_filter()  # all of them again
    assert shown_ids(view) == [s.shot_id for s in shots]
    assert not view.gallery.filtered_empty and not bar.count.isVisibleTo(bar)


def test_a_shot_landing_joins_or_leaves_the_cards_a_status_filter_shows(view, qtbot):
    shots = board(2, 3, ShotStatus.RENDERING)
    view.model.set_shots(RUN, shots)
    bar = view.board_filter
    bar.set_filter(status=ShotStatus.DONE)
    assert shown_ids(view) == []
    view.model.update_shot(shots[4].model_copy(update={"status": ShotStatus.DONE}))
    view.model.update_shot(shots[0].model_copy(update={"status": ShotStatus.DONE}))
    qtbot.waitUntil(lambda: shown_ids(view) == ["s01-01", "s02-02"], timeout=WAIT_MS)
    assert bar.count.text() == "2 of 6 shots"
    with qtbot.waitSignal(view.model.dataChanged, timeout=WAIT_MS):  # a hidden card changes
        view.model.update_shot(shots[1].model_copy(update={"attempts": 2}))
    assert "s01-02" not in shown_ids(view)
    assert not view.gallery.grab().isNull()  # and is not drawn (QListView asks, empty)

    view.model.set_shots(RUN, board(2, 3, ShotStatus.DONE))  # a new board: filtered too
    assert shown_ids(view) == [s.shot_id for s in board(2, 3)]
    bar.set_filter(status=ShotStatus.FAILED)
    assert shown_ids(view) == []


def test_the_jump_list_scrolls_to_the_first_card_of_a_scene(view, qtbot):
    shots = board(30, 10)
    view.board_filter.set_headings({s: f"EXT. PLACE {s} - DAY" for s in range(1, 31)})
    view.model.set_shots(RUN, shots)
    gallery, bar = view.gallery, view.board_filter
    assert gallery.verticalScrollBar().value() == 0

    chosen = bar.jump.findData(25)  # at once: the cards are laid out in batches meanwhile
    assert bar.jump.itemText(chosen) == "Scene 25: EXT. PLACE 25 - DAY"
    bar.jump.activated.emit(chosen)  # what the combo sends when a person picks it
    first = view.model.index(view.model.row_of("s25-01"))  # row 240: past the first batch
    assert gallery.verticalScrollBar().value() > 0
    assert gallery.visualRect(first).top() == 0  # the scene's first card at the top
    assert bar.jump.currentIndex() == 0  # ready for the next jump

    bar.set_filter(status=ShotStatus.DONE)  # no card of scene 5 shown: nowhere to go
    assert bar.jump_to_scene(5) is None
    assert not gallery.grab().isNull()  # scrolled down, then nothing shown: no card drawn


def test_thumbnails_are_decoded_for_the_cards_on_screen_only(ui, view, qtbot):
    refs = stored_images(ui, qtbot, 200)
    shots = board(20, 10, ShotStatus.RENDERING)
    view.model.set_shots(RUN, shots)
    gallery, thumbnails = view.gallery, ui.thumbnails
    for shot, ref in zip(shots, refs, strict=True):  # all land, live
        view.model.update_shot(shot.model_copy(update={"status": ShotStatus.DONE,
                                                       "image": ref}))
    on_screen = [row for row in range(len(shots))
                 if gallery.visualRect(view.model.index(row)).intersects(
                     gallery.viewport().rect())]
    assert 0 < len(on_screen) < 60
    qtbot.waitUntil(lambda: all(thumbnails.get(refs[row]) is not None for row in on_screen),
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: thumbnails.pending == 0, timeout=WAIT_MS)
    assert thumbnails.cached <= len(on_screen)  # not the 200 that landed

    gallery.verticalScrollBar().setValue(gallery.verticalScrollBar().maximum())
    last = view.model.index(len(shots) - 1)
    qtbot.waitUntil(lambda: thumbnails.get(refs[-1]) is not None, timeout=WAIT_MS)
    assert last.data(ShotRole).image == refs[-1]
    assert gallery.delegate.cached_card_bytes <= gallery.delegate.CARD_BUDGET


def test_the_thumbnail_cache_stays_within_its_budget_and_serves_the_newest_asks_first(
        ui, qtbot):
    refs = stored_images(ui, qtbot, 10, size=(40, 30))
    one = 40 * 30 * 4  # bytes of one decoded thumbnail (ARGB32)
    loader = ThumbnailLoader(ui.ops, lambda: ui.session.services, budget_bytes=3 * one,
                             parallel=1, max_queued=4)
    arrived: list[str] = []
    loader.ready.connect(arrived.append)
    for ref in refs:
        loader.request(ref)
    qtbot.waitUntil(lambda: loader.pending == 0, timeout=WAIT_MS)
    # the first went at once; of the nine that waited the four newest were kept, newest first
    assert arrived == [refs[n].key for n in (0, 9, 8, 7, 6)]
    assert loader.cached == 3 and loader.cached_bytes <= 3 * one
    assert [loader.get(refs[n]) is not None for n in (8, 7, 6)] == [True] * 3
    assert loader.get(refs[0]) is None and loader.get(refs[9]) is None  # least recently used

    loader.request(refs[1])  # dropped while waiting: asked again, it loads
    qtbot.waitUntil(lambda: loader.get(refs[1]) is not None, timeout=WAIT_MS)
    assert loader.cached_bytes <= 3 * one


def test_shots_landing_together_are_announced_once_a_frame_and_none_is_lost(view, qtbot):
    shots = board(5, 10)  # queued: no elapsed seconds ticking on the cards
    view.model.set_shots(RUN, shots)
    changes: list[tuple[int, int]] = []

    def changed(top: QModelIndex, bottom: QModelIndex, _roles=()) -> None:
        changes.append((top.row(), bottom.row()))

    view.model.dataChanged.connect(changed)
    landed = [*shots[3:9], *shots[20:47:2], shots[5], shots[4]]  # twice: announced once
    for shot in landed:
        view.model.update_shot(shot.model_copy(update={"status": ShotStatus.DONE,
                                                       "error": None}))
        assert view.model.shot(shot.shot_id).status is ShotStatus.DONE  # stored at once
    qtbot.waitUntil(lambda: bool(changes), timeout=WAIT_MS)
    qtbot.wait(50)  # a few frames: nothing more to announce
    # one announcement per run of adjacent rows, in the same frame
    assert changes == [(3, 8), *((r, r) for r in range(20, 47, 2))]
    rows = {view.model.row_of(s.shot_id) for s in landed}
    assert all(view.model.index(r).data(ShotRole).status is ShotStatus.DONE for r in rows)
    assert all(view.model.index(r).data(ShotRole).status is ShotStatus.QUEUED
               for r in range(len(shots)) if r not in rows)


def test_cards_beyond_a_paints_budget_are_drawn_in_the_next_frames(view, qtbot):
    gallery = view.gallery
    gallery.delegate.FRAME_BUDGET_S = 0.0  # one new card per paint, the others later
    shots = board(4, 10)
    view.model.set_shots(RUN, shots)
    gallery.viewport().repaint()
    on_screen = [s for row, s in enumerate(shots)
                 if gallery.visualRect(view.model.index(row)).intersects(
                     gallery.viewport().rect())]
    assert len(on_screen) > 2
    assert gallery.delegate.drawing_later > 0  # shown as bare frames for now
    assert not all(gallery.delegate.has_card(s) for s in on_screen)
    qtbot.waitUntil(lambda: all(gallery.delegate.has_card(s) for s in on_screen),
                    timeout=WAIT_MS)
    assert not any(gallery.delegate.has_card(s) for s in shots if s not in on_screen)
