"""Untrusted text reaches the terminal without control characters; JSON stays exact."""

from __future__ import annotations

import io
import json

from app.core import events as ev
from app.core.models import Run
from app.core.progress import ProgressPrinter
from app.core.text import has_controls, printable
from tests.integration.support import storyreel

ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202e"


def test_printable_removes_c0_c1_del_and_bidi_overrides_and_keeps_the_words():
    assert printable(f"a{ESCAPES}b\x00c\x7f") == "a]0;owned[2J31mbc"
    assert printable("two\nlines\tand\r tabs") == "two\nlines\tand tabs"
    assert printable("two\nlines\tand\r tabs", one_line=True) == "two lines and tabs"
    assert printable(None) == "" and printable(42) == "42"
    assert has_controls("\x1b[0m") and not has_controls("plain “quotes” and é")


def test_progress_lines_carry_no_escape_sequence():
    out = io.StringIO()
    printer = ProgressPrinter(out, label=f"idea{ESCAPES}.txt")
    run = Run(idea="x", title=f"T{ESCAPES}", error=f"boom{ESCAPES}", status="failed")
    printer(ev.RunFinished(run.run_id, run))
    text = out.getvalue()
    assert not has_controls(text.replace("\n", "")), repr(text)
    assert "boom" in text and "idea" in text


def test_history_and_show_print_no_control_characters_and_json_keeps_them(home):
    idea = "\x1b[2J\x1b]0;owned A lighthouse keeper keeps the light burning through a storm."
    made = storyreel("run", "--text", idea, "--json", "--max-shots", "2")
    assert made.returncode == 0, made.stderr
    assert "\x1b" not in made.stderr
    run_id = json.loads(made.stdout.splitlines()[-1])["run_id"]
    for command in (["history"], ["show", run_id]):
        shown = storyreel(*command)
        assert shown.returncode == 0, shown.stderr
        assert not has_controls(shown.stdout.replace("\n", "")), repr(shown.stdout)
    shown = storyreel("show", run_id)
    assert "[2J]0;owned A lighthouse keeper" in shown.stdout
    raw = storyreel("show", run_id, "--json").stdout
    assert "\x1b" not in raw  # JSON escapes it...
    assert json.loads(raw)["logline"].startswith("\x1b[2J\x1b]0;owned A")  # ...and keeps it


def test_log_lines_for_the_terminal_carry_no_escape_sequence():
    import logging

    from app.core.text import PrintableFormatter

    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "run %s failed: %s",
                               (f"T{ESCAPES}", "two\nlines"), None)
    text = PrintableFormatter("%(levelname)s %(message)s").format(record)
    assert text == "WARNING run T]0;owned[2J31m failed: two\nlines"
