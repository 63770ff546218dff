"""Render the application icon from its SVG (``make icons``).

    QT_QPA_PLATFORM=offscreen python scripts/make_icons.py

Writes resources/icons/png/s2f-desktop-<N>.png (16 ... 512), resources/icons/s2f-desktop.ico
(Windows, several sizes) and resources/icons/s2f-desktop.icns (macOS). Qt's SVG renderer
draws the PNGs; Pillow packs the .ico and .icns. The outputs are committed, so building a
bundle does not need this script.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def main() -> int:
    from PIL import Image
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - Qt needs one
    renderer = QSvgRenderer(str(ICONS / "s2f-desktop.svg"))
    if not renderer.isValid():
        print("make_icons: cannot read s2f-desktop.svg", file=sys.stderr)
        return 1
    (ICONS / "png").mkdir(parents=True, exist_ok=True)
    pngs: dict[int, Path] = {}
    for size in SIZES:
        img = QImage(size, size, QImage.Format.Format_ARGB32)
        img.fill(Qt.GlobalColor.transparent)
        painter = QPainter(img)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        pngs[size] = ICONS / "png" / f"s2f-desktop-{size}.png"
        img.save(str(pngs[size]), "PNG")
    big = Image.open(pngs[512]).convert("RGBA")
    big.save(ICONS / "s2f-desktop.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    big.save(ICONS / "s2f-desktop.icns")
    print(f"wrote {len(pngs)} PNGs, s2f-desktop.ico and s2f-desktop.icns under {ICONS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
