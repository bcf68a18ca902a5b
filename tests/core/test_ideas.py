import codecs
import json
import os

import pytest

from app.core import ideas
from app.core.errors import IdeaError
from app.core.ideas import IdeaKind


def write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_reads_a_prose_idea(tmp_path):
    [idea] = ideas.read(write(tmp_path / "idea.txt", b"A keeper tends a light.\n"))
    assert idea.text == "A keeper tends a light."
    assert idea.kind is IdeaKind.PROSE
    assert idea.source == "idea.txt"


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("a.md", "# Title\n\n## One\nA thing.", IdeaKind.MARKDOWN),
        ("a.txt", "# Title\n\n## One\nA thing.", IdeaKind.MARKDOWN),
        ("a.fountain", "Some action.", IdeaKind.FOUNTAIN),
        ("a.txt", "EXT. BEACH - DAY\n\nWaves.", IdeaKind.FOUNTAIN),
    ],
)
def test_detects_the_kind_of_idea(tmp_path, name, text, kind):
    [idea] = ideas.read(write(tmp_path / name, text.encode()))
    assert idea.kind is kind


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + "Café au phare.".encode(),
        codecs.BOM_UTF16_LE + "Café au phare.".encode("utf-16-le"),
        codecs.BOM_UTF16_BE + "Café au phare.".encode("utf-16-be"),
        "Café au phare.".encode(),
    ],
    ids=["utf8-bom", "utf16-le", "utf16-be", "utf8"],
)
def test_decodes_the_accepted_encodings(tmp_path, data):
    [idea] = ideas.read(write(tmp_path / "idea.txt", data))
    assert idea.text == "Café au phare."


def test_normalises_line_endings(tmp_path):
    [idea] = ideas.read(write(tmp_path / "idea.txt", b"One.\r\nTwo.\rThree."))
    assert idea.text == "One.\nTwo.\nThree."


def test_reads_a_json_batch(tmp_path):
    data = json.dumps(["First idea.", {"idea": "Second idea."}]).encode()
    batch = ideas.read(write(tmp_path / "batch.json", data))
    assert [i.text for i in batch] == ["First idea.", "Second idea."]
    assert [i.source for i in batch] == ["batch.json #1", "batch.json #2"]


def test_reads_a_json_batch_under_an_ideas_key(tmp_path):
    data = json.dumps({"ideas": ["Only one."]}).encode()
    assert [i.text for i in ideas.read(write(tmp_path / "b.json", data))] == ["Only one."]


# Every refusal: one line, naming the file and what is wrong.

def refusal(path) -> str:
    with pytest.raises(IdeaError) as info:
        ideas.read(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_refuses_an_empty_file(tmp_path):
    assert refusal(write(tmp_path / "e.txt", b"")) == (
        "e.txt is empty: write a sentence or two about the story")


def test_refuses_whitespace_only(tmp_path):
    assert "is empty" in refusal(write(tmp_path / "w.txt", b" \n\t\r\n  "))


def test_refuses_whitespace_only_in_utf16(tmp_path):
    data = codecs.BOM_UTF16_LE + "   \n ".encode("utf-16-le")
    assert "is empty" in refusal(write(tmp_path / "w.txt", data))


def test_refuses_a_file_over_one_megabyte(tmp_path):
    path = write(tmp_path / "big.txt", b"word " * 220_000)
    assert refusal(path) == "big.txt is 1.1 MB; an idea file can be at most 1 MB"


def test_refuses_a_fifty_megabyte_file_without_reading_it(tmp_path):
    path = tmp_path / "huge.md"
    with path.open("wb") as f:  # sparse: 50 MB long, costs nothing
        f.truncate(50_000_000)
    assert refusal(path) == "huge.md is 50.0 MB; an idea file can be at most 1 MB"


def test_refuses_binary_content(tmp_path):
    path = write(tmp_path / "junk.txt", bytes(range(256)) * 4)
    assert refusal(path) == "junk.txt looks like binary content, not text"


def test_refuses_text_that_is_not_utf8(tmp_path):
    path = write(tmp_path / "latin.txt", "Un café près du phare.".encode("latin-1"))
    assert refusal(path) == (
        "latin.txt is not UTF-8 text (invalid byte 0xe9 at offset 6); "
        "save it as UTF-8, or UTF-16 with a byte-order mark")


def test_refuses_a_folder(tmp_path):
    (tmp_path / "ideas.txt").mkdir()
    assert refusal(tmp_path / "ideas.txt") == "ideas.txt is a folder, not an idea file"


def test_refuses_a_missing_file(tmp_path):
    assert refusal(tmp_path / "nope.txt") == "nope.txt: no such file"


def test_refuses_an_unreadable_file(tmp_path):
    # A symlink loop cannot be read, even by root (who ignores permission bits).
    os.symlink(tmp_path / "b.txt", tmp_path / "a.txt")
    os.symlink(tmp_path / "a.txt", tmp_path / "b.txt")
    assert refusal(tmp_path / "a.txt").startswith("a.txt cannot be read: ")


@pytest.mark.parametrize("name", ["photo.png", "notes.docx", "README"])
def test_refuses_an_unknown_extension(tmp_path, name):
    message = refusal(write(tmp_path / name, b"An idea."))
    assert message.startswith(f"{name}: unsupported file type")
    assert "use .txt, .md, .fountain, .fdx or a .json batch" in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"[1, 2", "b.json is not valid JSON (line 1, column 6: Expecting ',' delimiter)"),
        (b'{"idea": "x"}', 'b.json: a batch must be a JSON list of ideas, or {"ideas": [...]}'),
        (b"[]", "b.json: the batch holds no ideas"),
        (b'["ok", 3]', 'b.json: idea 2 must be a string or an object with an "idea" string'),
        (b'["ok", "  "]', "b.json #2 is empty: write a sentence or two about the story"),
    ],
)
def test_refuses_a_bad_batch(tmp_path, data, expected):
    assert refusal(write(tmp_path / "b.json", data)) == expected


def test_one_bad_file_refuses_the_whole_batch(tmp_path):
    good = write(tmp_path / "good.txt", b"A fine idea.")
    bad = write(tmp_path / "bad.txt", b"")
    with pytest.raises(IdeaError, match=r"bad\.txt is empty"):
        ideas.read_many([good, bad])


def test_typed_ideas_are_checked_too():
    with pytest.raises(IdeaError, match="the idea is empty"):
        ideas.from_text("   ")
    with pytest.raises(IdeaError, match="at most 1 MB"):
        ideas.from_text("x" * 1_000_001)


# Paths that are not plain files: refused with what they are, never read or waited on.

def _read_in_thread(path):
    """``ideas.read`` with a guard: a hang (the old FIFO behaviour) fails the test
    instead of stopping the suite."""
    import threading

    outcome: dict = {}

    def work():
        try:
            outcome["value"] = ideas.read(path)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        # unblock the reader so the thread can end, then fail
        with open(path, "wb", opener=lambda p, f: os.open(p, f | os.O_NONBLOCK)):
            pass
        pytest.fail(f"reading {path} hung")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture
def fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes on this platform")
    path = tmp_path / "idea.txt"
    os.mkfifo(path)
    return path


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(fifo):
    with pytest.raises(IdeaError, match=r"idea.txt is a named pipe \(FIFO\), not an idea file"):
        _read_in_thread(fifo)


def test_a_named_pipe_behind_a_link_is_refused_too(fifo, tmp_path):
    link = tmp_path / "story.md"
    link.symlink_to(fifo)
    with pytest.raises(IdeaError, match=r"story.md is a named pipe"):
        _read_in_thread(link)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_a_device_is_refused_even_behind_a_link_with_a_text_name(tmp_path):
    link = tmp_path / "idea.txt"
    link.symlink_to("/dev/zero")  # read "to the limit" it would be a megabyte of NULs
    with pytest.raises(IdeaError, match=r"idea\.txt is a device, not an idea file"):
        _read_in_thread(link)
    with pytest.raises(IdeaError, match="zero is a device"):
        _read_in_thread("/dev/zero")


def test_a_socket_is_refused(tmp_path):
    import socket

    if not hasattr(socket, "AF_UNIX"):
        pytest.skip("no Unix sockets on this platform")
    path = tmp_path / "idea.txt"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(IdeaError, match=r"idea\.txt is a socket, not an idea file"):
            _read_in_thread(path)


def test_a_folder_behind_a_link_and_a_dangling_link_are_refused(tmp_path):
    (tmp_path / "folder.txt").mkdir()
    (tmp_path / "a.txt").symlink_to(tmp_path / "folder.txt")
    with pytest.raises(IdeaError, match=r"a\.txt is a folder"):
        ideas.read(tmp_path / "a.txt")
    (tmp_path / "b.txt").symlink_to(tmp_path / "gone.txt")
    with pytest.raises(IdeaError, match=r"b\.txt is a link to a file that does not exist"):
        ideas.read(tmp_path / "b.txt")


def test_a_link_to_a_regular_file_is_read(tmp_path):
    (tmp_path / "real.txt").write_text("A keeper keeps a light.", encoding="utf-8")
    (tmp_path / "link.md").symlink_to(tmp_path / "real.txt")
    [idea] = ideas.read(tmp_path / "link.md")
    assert idea.text == "A keeper keeps a light." and idea.source == "link.md"


@pytest.mark.skipif(not os.path.exists("/proc/kallsyms"), reason="needs a Linux /proc file")
def test_the_size_limit_holds_while_reading_when_stat_says_nothing(tmp_path):
    # /proc files say 0 bytes to stat; this one holds megabytes (the kernel's symbols).
    with open("/proc/kallsyms", "rb") as f:
        if len(f.read(ideas.MAX_IDEA_BYTES + 1)) <= ideas.MAX_IDEA_BYTES:
            pytest.skip("/proc/kallsyms is smaller than the limit here")
    assert os.stat("/proc/kallsyms").st_size == 0
    link = tmp_path / "symbols.txt"
    link.symlink_to("/proc/kallsyms")
    with pytest.raises(IdeaError, match=r"symbols\.txt is more than 1 MB"):
        ideas.read(link)
