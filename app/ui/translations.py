"""The window's language: Qt's own catalogue and ours, chosen from the locale.

Every user-visible string in ``app/ui`` goes through ``tr()`` (or
``QCoreApplication.translate`` with a context) as a literal, which is all
``lupdate`` can see. The sources of the translations are
``resources/translations/storyreel_<lang>.ts`` (edit them with
``pyside6-linguist``); the app loads the compiled ``.qm`` beside them.

``STORYREEL_LANG=fr`` (or ``LANGUAGE``/``LANG``, as Qt reads them) picks the
language; English is the source language and needs no catalogue.

Refresh the catalogues after changing strings, then translate and compile::

    python -m app.ui.translations --update    # pyside6-lupdate over app/ui/*.py
    python -m app.ui.translations --release   # pyside6-lrelease: .ts -> .qm
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from app.ui import theme

NAME = "storyreel"
LANGUAGES = ("fr",)
UI_DIR = Path(__file__).resolve().parent


def folder() -> Path:
    """``resources/translations`` (from a checkout or a PyInstaller bundle)."""
    return theme.resources_dir() / "translations"


def ui_locale() -> QLocale:
    """The locale to show the window in: ``STORYREEL_LANG`` if set, else the system's."""
    forced = os.environ.get("STORYREEL_LANG", "").strip()
    return QLocale(forced) if forced else QLocale.system()


def install(app: QCoreApplication, locale: QLocale | None = None) -> list[QTranslator]:
    """Install Qt's translations and ours for ``locale`` (default ``ui_locale()``) on
    ``app``, and make it the default locale, so that dates and numbers (``QLocale()``)
    follow the language even when it is forced. Returns the translators installed (keep
    them; ``uninstall`` undoes all of it)."""
    locale = locale or ui_locale()
    QLocale.setDefault(locale)
    installed: list[QTranslator] = []
    languages = [lang.replace("-", "_") for lang in locale.uiLanguages()]
    if languages and languages[0].split("_")[0] == "en":
        return installed  # the source language: nothing to translate
    candidates = ((QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath), "qtbase"),
                  (str(folder()), NAME))
    for directory, name in candidates:
        translator = QTranslator(app)
        if translator.load(locale, name, "_", directory):
            app.installTranslator(translator)
            installed.append(translator)
    return installed


def uninstall(app: QCoreApplication, translators: list[QTranslator]) -> None:
    """Remove ``translators`` and go back to the system's locale for dates and numbers."""
    for translator in translators:
        app.removeTranslator(translator)
    QLocale.setDefault(QLocale.system())


def ts_path(language: str) -> Path:
    return folder() / f"{NAME}_{language}.ts"


def qm_path(language: str) -> Path:
    return folder() / f"{NAME}_{language}.qm"


def tool(name: str) -> str:
    """A PySide6 tool (``pyside6-lupdate``…), beside this Python or on the PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: install PySide6-Essentials")
    return found


def sources() -> list[str]:
    return sorted(str(p) for p in UI_DIR.glob("*.py"))


def update(language: str) -> None:
    """Add new strings of ``app/ui/*.py`` to the ``.ts`` (and drop ones no longer used)."""
    folder().mkdir(parents=True, exist_ok=True)
    subprocess.run([tool("pyside6-lupdate"), "-no-obsolete", "-locations", "none",
                    *sources(), "-ts", str(ts_path(language))], check=True)


def release(language: str, out: Path | None = None) -> Path:
    """Compile the ``.ts`` to a ``.qm`` (beside it, or ``out``)."""
    target = out or qm_path(language)
    subprocess.run([tool("pyside6-lrelease"), "-silent", str(ts_path(language)),
                    "-qm", str(target)], check=True)
    return target


def main(argv: list[str]) -> int:
    if not argv or any(a not in ("--update", "--release") for a in argv):
        print(__doc__.split("\n\n")[-1].strip(), file=sys.stderr)
        return 2
    for language in LANGUAGES:
        if "--update" in argv:
            update(language)
        if "--release" in argv:
            print(f"compiled {release(language)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
