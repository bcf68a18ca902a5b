"""Fixtures of the export tests: real runs, see ``boards.py``."""

from __future__ import annotations

import pytest

from tests.core.export.boards import Board, make_board


@pytest.fixture
async def board(tmp_path) -> Board:
    """The lighthouse sample: four scenes, fourteen shots, every one rendered."""
    return await make_board(tmp_path)


@pytest.fixture
async def small_board(tmp_path) -> Board:
    """Three shots."""
    return await make_board(tmp_path, max_shots=3)
