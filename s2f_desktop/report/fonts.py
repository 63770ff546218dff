"""Embedded report fonts (DejaVu, shipped in ``resources/fonts``).

Reports embed subsets of these TrueType fonts instead of relying on the PDF base-14
fonts, which cannot show many characters analysts type (accents, dashes, Greek) and
whose appearance depends on the viewer. The fonts ship with the application so a report
never depends on what is installed on the machine.
"""

from __future__ import annotations

from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from s2f_desktop.core.errors import S2FError
from s2f_desktop.system.env import resources_dir

SANS = "S2F-Sans"
SANS_BOLD = "S2F-Sans-Bold"
SANS_ITALIC = "S2F-Sans-Oblique"
SERIF = "S2F-Serif"
SERIF_BOLD = "S2F-Serif-Bold"
SERIF_ITALIC = "S2F-Serif-Italic"
MONO = "S2F-Mono"

FILES = {
    SANS: "DejaVuSans.ttf",
    SANS_BOLD: "DejaVuSans-Bold.ttf",
    SANS_ITALIC: "DejaVuSans-Oblique.ttf",
    SERIF: "DejaVuSerif.ttf",
    SERIF_BOLD: "DejaVuSerif-Bold.ttf",
    SERIF_ITALIC: "DejaVuSerif-Italic.ttf",
    MONO: "DejaVuSansMono.ttf",
}


def fonts_dir() -> Path:
    """Folder holding the report fonts."""
    return resources_dir() / "fonts"


def register_fonts() -> None:
    """Register the report fonts with reportlab (idempotent)."""
    registered = set(pdfmetrics.getRegisteredFontNames())
    for name, filename in FILES.items():
        if name in registered:
            continue
        path = fonts_dir() / filename
        if not path.is_file():
            raise S2FError(f"report font {path} is missing; reinstall s2f-desktop")
        pdfmetrics.registerFont(TTFont(name, str(path)))
    # Family mappings so <b> and <i> inside paragraphs pick the right face.
    addMapping(SANS, 0, 0, SANS)
    addMapping(SANS, 1, 0, SANS_BOLD)
    addMapping(SANS, 0, 1, SANS_ITALIC)
    addMapping(SANS, 1, 1, SANS_BOLD)
    addMapping(SERIF, 0, 0, SERIF)
    addMapping(SERIF, 1, 0, SERIF_BOLD)
    addMapping(SERIF, 0, 1, SERIF_ITALIC)
    addMapping(SERIF, 1, 1, SERIF_BOLD)
    addMapping(MONO, 0, 0, MONO)
    addMapping(MONO, 1, 0, MONO)
    addMapping(MONO, 0, 1, MONO)
    addMapping(MONO, 1, 1, MONO)
