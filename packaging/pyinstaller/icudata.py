"""A smaller ICU data library for the bundle: Qt's copy of ICU carries 31 MB of data
(libicudata.so.<N>), of which Qt (QtCore is the only library that calls ICU) reads
collation (QCollator), converters (QStringConverter), time zones and their names
(QTimeZone) and letter case (QString::toUpper/toLower). The rest -- line and word break
rules and dictionaries, display names of languages, regions, currencies and units
(a time zone's names are in the zone tree, which stays),
transliterators, number spell-out, character names, IDNA and StringPrep profiles -- is
reached only through ICU APIs QtCore never calls (``readelf --dyn-syms libQt6Core.so.6``
lists the ICU functions it imports: u_strTo{Upper,Lower}, ucal_*, ucnv_*, ucol_*).

``shrink(source, target)`` writes a library of the same soname that exports the same
symbol (``icudt<N>_dat``) holding ICU's common data package without those items.
The package format (ICU's "CmnD" table of contents) is ICU's own udatamem/ucmndata; the
library is assembled with binutils (as, ld), which the spec already needs for readelf.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

# Trees and items of ICU's data that QtCore never reaches (see above).
DROP_TREES = frozenset({"brkitr", "lang", "region", "curr", "unit", "translit", "rbnf"})
DROP_ITEMS = re.compile(r"(?:unames\.icu|confusables\.cfu|uts46\.nrm|[^/]+\.spp)$")


def _elf_symbol(path: Path) -> tuple[str, int, int]:
    """The data symbol's name, file offset and size (readelf)."""
    symbols = subprocess.run(["readelf", "-sW", str(path)], capture_output=True, text=True,
                             check=True).stdout
    found = re.search(r"^\s*\d+:\s+([0-9a-f]+)\s+(0x[0-9a-f]+|\d+)\s+OBJECT\s+GLOBAL\s+\S+"
                      r"\s+(\d+)\s+(icudt\d+_dat)\s*$", symbols, re.M)
    if not found:
        raise ValueError(f"{path}: no icudt<N>_dat symbol")
    address, size, section, name = found.groups()
    sections = subprocess.run(["readelf", "-SW", str(path)], capture_output=True, text=True,
                              check=True).stdout
    header = re.search(rf"^\s*\[\s*{section}\]\s+\S+\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)",
                       sections, re.M)
    if not header:
        raise ValueError(f"{path}: no section {section}")
    section_address, section_offset = (int(v, 16) for v in header.groups())
    return name, int(address, 16) - section_address + section_offset, int(size, 0)


def items(package: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """ICU common data: its header and its (name, bytes) items, in table order."""
    header_size = struct.unpack_from("<H", package, 0)[0]
    if package[2:4] != b"\xda\x27" or package[12:16] != b"CmnD":
        raise ValueError("not an ICU common data package (little-endian CmnD)")
    toc = package[header_size:]
    count = struct.unpack_from("<I", toc, 0)[0]
    entries = [struct.unpack_from("<II", toc, 4 + 8 * k) for k in range(count)]
    out = []
    for k, (name_at, data_at) in enumerate(entries):
        end = entries[k + 1][1] if k + 1 < count else len(toc)
        name = toc[name_at:toc.index(b"\0", name_at)].decode("ascii")
        out.append((name, toc[data_at:end]))
    return package[:header_size], out


def pack(header: bytes, kept: list[tuple[str, bytes]]) -> bytes:
    """The package for ``kept`` (names sorted as ICU's binary search expects them, each
    item 16-byte aligned, as ICU's pkgdata writes them)."""
    kept = sorted(kept, key=lambda item: item[0].encode("ascii"))
    names = b"".join(name.encode("ascii") + b"\0" for name, _ in kept)
    toc_size = 4 + 8 * len(kept)
    at = toc_size + len(names)
    at += -at % 16
    table, blob, name_at = [], bytearray(), toc_size
    for name, data in kept:
        table.append(struct.pack("<II", name_at, at + len(blob)))
        name_at += len(name) + 1
        blob += data
        blob += b"\0" * (-len(blob) % 16)
    toc = struct.pack("<I", len(kept)) + b"".join(table) + names
    toc += b"\0" * (-len(toc) % 16)
    return header + toc + bytes(blob)


def unused(name: str) -> bool:
    parts = name.split("/")  # icudt73l/<tree>/<item> or icudt73l/<item>
    return (len(parts) > 2 and parts[1] in DROP_TREES) or bool(DROP_ITEMS.search(name))


def shrink(source: Path, target: Path) -> tuple[int, int]:
    """Write the smaller library to ``target``; return (items kept, items dropped)."""
    symbol, offset, size = _elf_symbol(source)
    soname = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", subprocess.run(
        ["readelf", "-dW", str(source)], capture_output=True, text=True, check=True).stdout)
    if not soname:
        raise ValueError(f"{source}: no soname")
    header, everything = items(source.read_bytes()[offset:offset + size])
    kept = [item for item in everything if not unused(item[0])]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        data = Path(work) / "icudata.dat"
        data.write_bytes(pack(header, kept))
        assembly = Path(work) / "icudata.s"
        assembly.write_text(
            f'\t.section .rodata\n\t.globl {symbol}\n\t.type {symbol}, @object\n'
            f'\t.balign 16\n{symbol}:\n\t.incbin "{data}"\n'
            f'\t.size {symbol}, . - {symbol}\n'
            '\t.section .note.GNU-stack,"",@progbits\n', encoding="ascii")
        subprocess.run(["as", "-o", str(Path(work) / "icudata.o"), str(assembly)], check=True)
        subprocess.run(["ld", "-shared", "-soname", soname.group(1), "-o", str(target),
                        str(Path(work) / "icudata.o")], check=True)
    return len(kept), len(everything) - len(kept)


def available() -> bool:
    return all(shutil.which(tool) for tool in ("readelf", "as", "ld"))
