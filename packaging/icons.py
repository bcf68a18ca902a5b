"""Render resources/icons/storyreel.svg into the PNG sizes the installers need.

    python packaging/icons.py OUT_DIR

writes OUT_DIR/storyreel-<N>.png for N in SIZES and OUT_DIR/storyreel.ico (with
Pillow: 16 to 256 px) for the Windows executable and installer. On macOS the
spec gives PyInstaller the 1024 px PNG, which it turns into .icns; the .deb
installs the SVG plus 48/128/256 px PNGs in hicolor.
Qt's SVG renderer does the drawing, offscreen, so no display is needed.
Files already newer than the SVG are left alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SVG = Path(__file__).resolve().parents[1] / "resources" / "icons" / "storyreel.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)


def render(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = [out_dir / f"storyreel-{size}.png" for size in SIZES]
    ico = out_dir / "storyreel.ico"
    if all(t.exists() and t.stat().st_mtime >= SVG.stat().st_mtime for t in [*targets, ico]):
        return targets
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"icons: cannot read {SVG}")
    for size, target in zip(SIZES, targets, strict=True):
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        if not image.save(str(target), "PNG"):
            raise SystemExit(f"icons: cannot write {target}")
    del app
    from PIL import Image

    with Image.open(out_dir / "storyreel-256.png") as image:
        image.save(ico, format="ICO", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    return targets


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    render(Path(sys.argv[1]))
