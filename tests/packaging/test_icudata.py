"""The bundle's smaller ICU data (packaging/pyinstaller/icudata.py): Qt answers the same
with it as with the whole data, for everything QtCore asks ICU (collation, time zone
names, case mapping, converters)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import PySide6
import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "packaging" / "pyinstaller"))
import icudata

QT_ICU = sorted((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*"))

# What QtCore gets from ICU, printed one answer a line.
QT_ANSWERS = """
import functools
from PySide6.QtCore import QCollator, QLocale, QStringDecoder, QStringEncoder, QTimeZone

words = ["zebra", "Äpfel", "öl", "apple", "Été", "été", "中文", "日本", "ıi", "İ", "ch", "cz"]
for loc in ("sv", "de", "fr", "ja", "zh", "tr", "cs", "es"):
    print(loc, sorted(words, key=functools.cmp_to_key(QCollator(QLocale(loc)).compare)))
types = (QTimeZone.TimeType.StandardTime, QTimeZone.TimeType.DaylightTime,
         QTimeZone.TimeType.GenericTime)
names = (QTimeZone.NameType.LongName, QTimeZone.NameType.ShortName,
         QTimeZone.NameType.OffsetName)
for loc in ("fr", "en_US", "ja", "de", "pt_BR"):
    for zone in (b"Europe/Paris", b"America/New_York", b"Asia/Kolkata"):
        print(loc, zone, [QTimeZone(zone).displayName(t, n, QLocale(loc))
                          for t in types for n in names])
print(QLocale("tr").toUpper("istanbul"), QLocale("de").toUpper("straße"),
      QLocale("el").toLower("ΣΊΣΥΦΟΣ"))
for codec in ("Shift_JIS", "EUC-KR", "GB18030", "Big5", "windows-1251", "ISO-2022-JP"):
    print(codec, QStringEncoder(codec).isValid(), QStringDecoder(codec).isValid())
print(sorted(QStringEncoder.availableCodecs()))
print(len(QTimeZone.availableTimeZoneIds()))
"""


def _package(items: list[tuple[str, bytes]]) -> bytes:
    header = bytearray(32)  # headerSize, magic, UDataInfo (size, ..., "CmnD", versions)
    struct.pack_into("<HBBHH", header, 0, 32, 0xDA, 0x27, 20, 0)
    header[8:12] = bytes([0, 0, 2, 0])  # little-endian, ASCII, sizeof(UChar), reserved
    header[12:16] = b"CmnD"
    return icudata.pack(bytes(header), items)


def test_a_package_keeps_its_items_sorted_aligned_and_whole():
    items = [("icudt73l/zone/fr.res", b"z" * 5), ("icudt73l/coll/de.res", b"c" * 17),
             ("icudt73l/cnvalias.icu", b"a" * 3)]
    _header, read = icudata.items(_package(items))
    assert [name for name, _ in read] == sorted(name for name, _ in items)
    for name, data in read:  # each item as it was (then padding up to the next one)
        assert data.rstrip(b"\0") == dict(items)[name]
    with pytest.raises(ValueError, match="CmnD"):
        icudata.items(b"\x20\x00\xda\x27" + bytes(28))


def test_only_what_qtcore_never_reads_is_left_out():
    kept = ["icudt73l/coll/de.res", "icudt73l/zone/fr.res", "icudt73l/fr.res",
            "icudt73l/ibm-943_P15A-2003.cnv", "icudt73l/cnvalias.icu", "icudt73l/metaZones.res",
            "icudt73l/zoneinfo64.res", "icudt73l/nfkc.nrm"]
    dropped = ["icudt73l/brkitr/line.brk", "icudt73l/lang/fr.res", "icudt73l/region/fr.res",
               "icudt73l/curr/fr.res", "icudt73l/unit/fr.res", "icudt73l/translit/root.res",
               "icudt73l/rbnf/fr.res", "icudt73l/unames.icu", "icudt73l/rfc3491.spp",
               "icudt73l/uts46.nrm", "icudt73l/confusables.cfu"]
    assert [name for name in kept + dropped if icudata.unused(name)] == dropped


@pytest.mark.skipif(not (QT_ICU and icudata.available() and sys.platform == "linux"),
                    reason="needs Linux, binutils and PySide6's own ICU")
def test_qt_answers_the_same_with_the_smaller_icu_data(tmp_path: Path):
    smaller = tmp_path / QT_ICU[0].name
    _kept, left = icudata.shrink(QT_ICU[0], smaller)
    assert left > 1000 and smaller.stat().st_size < QT_ICU[0].stat().st_size * 0.6

    def answers(preload: Path | None) -> str:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        if preload is not None:  # loaded first, so its soname is the one QtCore binds to
            env["LD_PRELOAD"] = str(preload)
        done = subprocess.run([sys.executable, "-c", QT_ANSWERS], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    whole = answers(None)
    assert "heure normale d’Europe centrale" in whole and "Shift_JIS True True" in whole
    assert answers(smaller) == whole
    # and the comparison can fail: without the collation and zone trees, it does
    broken = tmp_path / "broken" / QT_ICU[0].name
    original = icudata.DROP_TREES
    try:
        icudata.DROP_TREES = original | {"coll", "zone"}
        icudata.shrink(QT_ICU[0], broken)
    finally:
        icudata.DROP_TREES = original
    assert answers(broken) != whole
    assert shutil.which("ld")
