"""Style presets: data files, lookups, custom lines, and the errors people see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core import styles
from app.core.prompts import NEGATIVE_PROMPT
from app.core.styles import (
    Style,
    StyleError,
    builtin_styles_dir,
    get_style,
    load_styles,
    merge_terms,
    resolve_style,
    style_names,
)
from tests.conftest import REPO

REQUIRED = {"Pencil sketch", "Cinematic still", "Comic ink", "Watercolour", "Noir"}


def test_the_presets_ship_as_data_and_each_is_complete():
    assert Path(str(builtin_styles_dir())) == REPO / "resources" / "styles"
    presets = load_styles()
    assert REQUIRED <= set(style_names())
    files = sorted((REPO / "resources" / "styles").glob("*.json"))
    assert len(files) == len(presets)
    for file in files:
        data = json.loads(file.read_text(encoding="utf-8"))
        style = presets[data["id"]]
        assert file.stem == style.id
        assert style.prompt and style.negative and style.description
        assert not style.custom


def test_the_default_is_the_pencil_sketch():
    assert resolve_style(None).id == "pencil-sketch" == resolve_style("  ").id
    assert resolve_style(None).prompt == (
        "storyboard pencil sketch, clean lines, grey wash, cinematic framing")


@pytest.mark.parametrize(("asked", "found"), [
    ("Comic Ink", "comic-ink"), ("comic-ink", "comic-ink"), ("COMIC_INK", "comic-ink"),
    ("  cinematic   still ", "cinematic-still"), ("watercolor", "watercolour"),
    ("Film Noir", "noir"), ("pencil", "pencil-sketch"),
])
def test_presets_are_found_by_id_name_or_alias_in_any_case(asked, found):
    assert get_style(asked).id == found
    assert resolve_style(asked).id == found


def test_an_unknown_name_lists_the_presets_and_suggests_the_nearest():
    with pytest.raises(StyleError) as caught:
        resolve_style("noire")
    message = str(caught.value)
    assert message.startswith("unknown style 'noire'; did you mean 'Noir'?")
    assert all(name in message for name in style_names()) and "\n" not in message
    with pytest.raises(StyleError, match="unknown style 'zzz'; presets: "):
        get_style("zzz")


def test_a_line_of_three_words_or_more_is_a_custom_style():
    style = resolve_style("linocut  print,\nbold black shapes")
    assert style.custom and style.prompt == "linocut print, bold black shapes"
    assert style.negative_prompt(NEGATIVE_PROMPT) == NEGATIVE_PROMPT
    with pytest.raises(StyleError):  # two words: a mistyped name, not a style
        resolve_style("pencil skech")
    with pytest.raises(StyleError):  # the strict lookup takes presets only
        get_style("linocut print, bold black shapes")


def test_negative_terms_are_added_once():
    noir = get_style("noir")
    merged = noir.negative_prompt("text, watermark, Colour")
    terms = merged.split(", ")
    assert terms[:3] == ["text", "watermark", "Colour"]
    assert "color" in terms and "colour" not in terms  # case-insensitive de-duplication
    assert len(terms) == len({t.casefold() for t in terms})
    assert merge_terms(" a, b ,, a ", "B, c") == "a, b, c"


def write_presets(folder: Path, *presets: dict | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n, preset in enumerate(presets):
        text = preset if isinstance(preset, str) else json.dumps(preset)
        (folder / f"p{n}.json").write_text(text, encoding="utf-8")
    return folder


def test_a_folder_of_presets_can_be_loaded_and_broken_files_are_named(tmp_path):
    good = {"id": "charcoal", "name": "Charcoal", "prompt": "charcoal drawing",
            "aliases": ["coal"]}
    presets = load_styles(write_presets(tmp_path / "ok", good))
    assert get_style("coal", presets) == Style(id="charcoal", name="Charcoal",
                                               prompt="charcoal drawing", aliases=("coal",))
    assert resolve_style(None, presets).id == "charcoal"  # no pencil sketch: the first one

    cases = [
        ("{not json", "p0.json is not valid JSON"),
        (json.dumps({"id": "x", "name": "X"}), "p0.json lacks prompt"),
        (json.dumps({"id": "x", "name": "X", "prompt": "p", "aliases": "x"}),
         "aliases must be a list"),
    ]
    for n, (text, words) in enumerate(cases):
        with pytest.raises(StyleError, match=words):
            load_styles(write_presets(tmp_path / f"bad{n}", text))
    twice = write_presets(tmp_path / "twice", good,
                          {"id": "coal", "name": "Coal dust", "prompt": "p"})
    with pytest.raises(StyleError, match="'coal' is used by both 'charcoal' and 'coal'"):
        load_styles(twice)


def test_an_installed_package_finds_its_presets_inside_the_package(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "app"
    write_presets(package / "resources" / "styles",
                  {"id": "pencil-sketch", "name": "Pencil sketch", "prompt": "installed"})
    monkeypatch.setattr(styles.resources, "files", lambda name: package)
    folder = builtin_styles_dir()
    assert Path(str(folder)) == package / "resources" / "styles"
    assert load_styles(folder)["pencil-sketch"].prompt == "installed"


def test_a_pyinstaller_bundle_finds_its_presets_in_the_bundle(tmp_path, monkeypatch):
    bundle = tmp_path / "bundle"
    write_presets(bundle / "resources" / "styles",
                  {"id": "noir", "name": "Noir", "prompt": "bundled"})
    monkeypatch.setattr(styles.resources, "files", lambda name: tmp_path / "nowhere")
    monkeypatch.setattr(styles.sys, "_MEIPASS", str(bundle), raising=False)
    assert Path(str(builtin_styles_dir())) == bundle / "resources" / "styles"
