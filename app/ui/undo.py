"""Undo and redo of board edits: one ``QUndoStack`` per run, the one on show active.

Every step is saved at once: a new edit is sent to the core first (through the
session, off the GUI thread's way) and pushed onto the stack only once history
has it. Undo and redo work the same way: the inverse edit is saved first and
the stack's index moves only when it succeeded, so the stack always says what
the board is. While a step is being saved the Undo and Redo actions wait.
When a step cannot be undone the reason is shown: while the run renders the
stack stays as it is (try again once it has finished); when the board has
changed under it (a shot deleted elsewhere) the run's undo history is cleared,
since the steps below it no longer fit the board.

Undo lasts while the window is open: the stacks live in memory. History keeps
the result of every step (an undone edit is a new edit of the board), not the
steps themselves, so after a restart the board is as the last step left it and
there is nothing to undo.

The steps hold what they need to go both ways: a deleted shot is put back whole
(``restore_shot``: same id, images and versions) at the place it had, and a
shot added again by Redo keeps the id it had, so later steps still find it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoGroup, QUndoStack

from app.core.models import Shot

if TYPE_CHECKING:
    from app.ui.session import Session

Place = dict[str, Any]  # {"after": shot id} or {"scene": n}: where a shot stands


def place_of(shots: list[Shot], shot_id: str) -> Place:
    """Where ``shot_id`` stands in ``shots`` (board order): after the shot before it in
    its scene, or at the start of its scene."""
    for row, shot in enumerate(shots):
        if shot.shot_id == shot_id:
            before = shots[row - 1] if row else None
            if before is not None and before.scene == shot.scene:
                return {"after": before.shot_id}
            return {"scene": shot.scene}
    raise KeyError(shot_id)


def removed_shot(edit: Any, fallback: Shot) -> Shot:
    """The shot a delete took away, as the core returned it if it did (``BoardEdit.removed``
    holds ids), else the view's copy from just before the delete."""
    for name in ("removed_shots", "removed"):
        for item in getattr(edit, name, None) or ():
            if isinstance(item, Shot) and item.shot_id == fallback.shot_id:
                return item
    return fallback


class BoardStep(QUndoCommand):
    """One board edit that can be undone. ``forward`` and ``backward`` start the edit each
    way (given the session's ``edit_board`` bound to the run); the stack's own ``redo`` and
    ``undo`` only move its index (the controller saves first)."""

    def __init__(self, run_id: str, text: str) -> None:
        super().__init__(text)
        self.run_id = run_id
        self.shot_id: str | None = None  # the shot the step is about, once known

    def forward(self) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def backward(self) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def prepare(self, lookup: Callable[[str], Shot | None]) -> None:
        """Just before either edit is sent: ``lookup`` gives a shot of the board on show."""

    def forward_done(self, edit: Any) -> None:
        """What the core answered the forward edit (new ids, the shot removed)."""

    def backward_done(self, edit: Any) -> None:
        """What the core answered the backward edit."""

    def redo(self) -> None:  # the controller has saved it already
        pass

    def undo(self) -> None:
        pass


class AddStep(BoardStep):
    """A new shot (``add_shot``); Undo deletes it, Redo puts the same shot back."""

    def __init__(self, run_id: str, text: str, place: Place, fields: dict[str, Any]) -> None:
        super().__init__(run_id, text)
        self.place, self.fields = place, fields
        self.shot: Shot | None = None  # as Undo took it away
        self.taken: Shot | None = None

    def forward(self):
        if self.shot is not None:
            return "restore_shot", {"shot": self.shot, **self.place}
        return "add_shot", {**self.place, **self.fields}

    def forward_done(self, edit) -> None:
        self.shot_id = edit.shot_id

    def prepare(self, lookup) -> None:
        shot = lookup(self.shot_id) if self.shot_id else None
        if shot is not None:  # on the board: Undo takes it away as it is now
            self.taken = shot.model_copy(deep=True)

    def backward(self):
        return "delete_shot", {"shot_id": self.shot_id}

    def backward_done(self, edit) -> None:
        self.shot = removed_shot(edit, self.taken)


class DuplicateStep(AddStep):
    """A copy of a shot right after it (``duplicate_shot``)."""

    def __init__(self, run_id: str, text: str, source_id: str) -> None:
        super().__init__(run_id, text, {"after": source_id}, {})
        self.source_id = source_id

    def forward(self):
        if self.shot is not None:
            return "restore_shot", {"shot": self.shot, **self.place}
        return "duplicate_shot", {"shot_id": self.source_id}


class DeleteStep(BoardStep):
    """A shot deleted; Undo puts it back whole where it was (``restore_shot``)."""

    def __init__(self, run_id: str, text: str, shot: Shot, place: Place) -> None:
        super().__init__(run_id, text)
        self.shot_id, self.shot, self.place = shot.shot_id, shot, place

    def prepare(self, lookup) -> None:
        shot = lookup(self.shot_id)
        if shot is not None:  # on the board (Redo): delete it as it is now
            self.shot = shot.model_copy(deep=True)

    def forward(self):
        return "delete_shot", {"shot_id": self.shot_id}

    def forward_done(self, edit) -> None:
        self.shot = removed_shot(edit, self.shot)

    def backward(self):
        return "restore_shot", {"shot": self.shot, **self.place}


class MoveStep(BoardStep):
    def __init__(self, run_id: str, text: str, shot_id: str, to: Place, back: Place) -> None:
        super().__init__(run_id, text)
        self.shot_id, self.to, self.back = shot_id, to, back

    def forward(self):
        return "move_shot", {"shot_id": self.shot_id, **self.to}

    def backward(self):
        return "move_shot", {"shot_id": self.shot_id, **self.back}


class SetStep(BoardStep):
    """Fields of a shot changed (``set_shot``): ``new`` and the ``old`` values of the same
    fields."""

    def __init__(self, run_id: str, text: str, shot_id: str, new: dict[str, Any],
                 old: dict[str, Any]) -> None:
        super().__init__(run_id, text)
        self.shot_id, self.new, self.old = shot_id, new, old

    def forward(self):
        return "set_shot", {"shot_id": self.shot_id, **self.new}

    def backward(self):
        return "set_shot", {"shot_id": self.shot_id, **self.old}


class AspectStep(BoardStep):
    def __init__(self, run_id: str, text: str, new: str, old: str) -> None:
        super().__init__(run_id, text)
        self.new, self.old = new, old

    def forward(self):
        return "set_aspect", {"aspect": self.new}

    def backward(self):
        return "set_aspect", {"aspect": self.old}


class BoardUndo(QObject):
    """The window's undo history of board edits, one stack per run (a ``QUndoGroup``).

    ``perform`` saves a new step and pushes it; ``undo`` and ``redo`` save the inverse (or
    the step again) and then move the stack. ``applied(edit, text)`` gives every result, so
    the run view shows the board as the core returned it; ``refused(title, exc)`` says why
    a step was not saved.
    """

    applied = Signal(object, str)  # BoardEdit, what was done ("Undo: Delete shot 2A")
    refused = Signal(str, object)  # title, the exception
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session: Session | None = None
        self.lookup: Callable[[str], Shot | None] = lambda _shot_id: None  # the view's shots
        self.group = QUndoGroup(self)
        self._stacks: dict[str, QUndoStack] = {}
        self._busy = False
        tip = self.tr("Undo lasts while the window is open; history keeps the result of every "
                      "step, so after a restart the board is as the last step left it")
        self.undo_action = QAction(self.tr("&Undo"), self)
        self.undo_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Undo)])
        self.undo_action.setToolTip(tip)
        self.undo_action.triggered.connect(self.undo)
        self.redo_action = QAction(self.tr("&Redo"), self)
        redo_keys = [QKeySequence("Ctrl+Shift+Z")]
        redo_keys += [k for k in QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)
                      if k not in redo_keys]
        self.redo_action.setShortcuts(redo_keys)
        self.redo_action.setToolTip(tip)
        self.redo_action.triggered.connect(self.redo)
        for signal in (self.group.canUndoChanged, self.group.canRedoChanged,
                       self.group.undoTextChanged, self.group.redoTextChanged,
                       self.group.activeStackChanged):
            signal.connect(self._update_actions)
        self._update_actions()

    def bind(self, session: Session) -> None:
        self.session = session

    # Which run.

    def stack(self, run_id: str) -> QUndoStack:
        stack = self._stacks.get(run_id)
        if stack is None:
            stack = self._stacks[run_id] = QUndoStack(self.group)
        return stack

    def show_run(self, run_id: str | None) -> None:
        """Make ``run_id``'s stack the one Undo and Redo act on (None: no run on show)."""
        self.group.setActiveStack(self.stack(run_id) if run_id else None)
        self._update_actions()

    def forget(self, run_id: str) -> None:
        """A run deleted: its steps go."""
        stack = self._stacks.pop(run_id, None)
        if stack is not None:
            if self.group.activeStack() is stack:
                self.group.setActiveStack(None)
            self.group.removeStack(stack)
            stack.deleteLater()
        self._update_actions()

    @property
    def busy(self) -> bool:
        """A step is being saved: Undo, Redo and new edits wait for it."""
        return self._busy

    # Acting.

    def perform(self, step: BoardStep, *, on_done: Callable[[Any], object] | None = None
                ) -> bool:
        """Save ``step`` and push it. False (and nothing done) while another step is
        being saved or without a session."""
        if not self._start():
            return False

        def done(edit: Any) -> None:
            step.forward_done(edit)
            self.stack(step.run_id).push(step)  # its redo() only moves the index
            self._finish(edit, step.text())
            if on_done is not None:
                on_done(edit)

        step.prepare(self.lookup)
        self._save(step, *step.forward(), done, step.text())
        return True

    def undo(self) -> bool:
        stack = self.group.activeStack()
        if stack is None or not stack.canUndo() or not self._start():
            return False
        step: BoardStep = stack.command(stack.index() - 1)
        text = self.tr("Undo: %1").replace("%1", step.text())

        def done(edit: Any) -> None:
            step.backward_done(edit)
            if shiboken6.isValid(stack):
                stack.undo()
            self._finish(edit, text)

        step.prepare(self.lookup)
        self._save(step, *step.backward(), done, text, stack=stack)
        return True

    def redo(self) -> bool:
        stack = self.group.activeStack()
        if stack is None or not stack.canRedo() or not self._start():
            return False
        step: BoardStep = stack.command(stack.index())
        text = self.tr("Redo: %1").replace("%1", step.text())

        def done(edit: Any) -> None:
            step.forward_done(edit)
            if shiboken6.isValid(stack):
                stack.redo()
            self._finish(edit, text)

        step.prepare(self.lookup)
        self._save(step, *step.forward(), done, text, stack=stack)
        return True

    # Inside.

    def _start(self) -> bool:
        if self._busy or self.session is None:
            return False
        self._busy = True
        self.busy_changed.emit(True)
        self._update_actions()
        return True

    def _finish(self, edit: Any, text: str) -> None:
        self._busy = False
        self.busy_changed.emit(False)
        self._update_actions()
        self.applied.emit(edit, text)

    def _save(self, step: BoardStep, operation: str, arguments: dict[str, Any],
              done: Callable[[Any], None], text: str, *, stack: QUndoStack | None = None
              ) -> None:
        def failed(exc: BaseException) -> None:
            self._busy = False
            self.busy_changed.emit(False)
            if stack is not None and shiboken6.isValid(stack) and self.session is not None \
                    and not self.session.is_active(step.run_id):
                # Not the run rendering: the board changed under the step (a shot deleted
                # elsewhere); the steps below it no longer fit. Start afresh.
                stack.clear()
            self._update_actions()
            self.refused.emit(self.tr("%1: not saved").replace("%1", text), exc)

        assert self.session is not None
        self.session.edit_board(operation, step.run_id, what=text, parent=self,
                                success=done, failure=failed, **arguments)

    def _update_actions(self, *_args) -> None:
        group = self.group
        self.undo_action.setEnabled(group.canUndo() and not self._busy)
        self.redo_action.setEnabled(group.canRedo() and not self._busy)
        self.undo_action.setText(self.tr("&Undo %1").replace("%1", group.undoText())
                                 if group.canUndo() else self.tr("&Undo"))
        self.redo_action.setText(self.tr("&Redo %1").replace("%1", group.redoText())
                                 if group.canRedo() else self.tr("&Redo"))

