"""The marking burned into every composite image that leaves the application.

A composite is an average face that shows a few traits estimated from a voice; cropped
out of its report it could pass for a photograph of a suspect. So every composite
image is stored, exported and printed *with* its marking as pixels, not as a caption:

* a **top band** (above the face, outside the rendered picture) reading
  ``ILLUSTRATIVE COMPOSITE — NOT A LIKENESS``;
* a **bottom band** naming the case number, composite id, version and view, and
  saying that the picture is not a photograph or an identification;
* a **diagonal mark** repeated across the face itself, so that cropping the bands
  away still leaves the marking over the face; and a thin frame.

The bands are opaque and depend only on the image width and the :class:`MarkInfo`,
so a check can render them afresh and compare them with what is in a file
(:func:`verify_marking`). The marked image is the recorded image: its sha256 is what
the store keeps.

Only Pillow and the fonts shipped in ``resources/fonts`` are used (no torch), so the
services, the report and the front ends can all use this module; it lives in
``report`` because the layer contract lets every higher layer import ``report`` while
``face`` may not be imported by ``report``.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from PIL import Image, ImageChops, ImageDraw, ImageFont, PngImagePlugin

from s2f_desktop.core.models import CompositeParam
from s2f_desktop.system.env import resources_dir

#: Identifies the marking layout; recorded with each stored composite (``render.marking``).
MARK_VERSION = "composite-mark-v1"
HEADLINE = "ILLUSTRATIVE COMPOSITE \u2014 NOT A LIKENESS"
DIAGONAL = "ILLUSTRATIVE \u2014 NOT A LIKENESS"
DISCLAIMER = "Not a photograph. Not an identification. Only sex and age come from the voice."
#: Narrower renders are scaled up to this width before marking so the text stays legible.
MIN_WIDTH = 384
#: Band heights as fractions of the image width (top: one line; bottom: per line, plus a margin).
TOP_FRACTION = 0.085
BOTTOM_LINE_FRACTION = 0.06
BOTTOM_MARGIN_FRACTION = 0.01
FRAME_FRACTION = 0.008

BAND_BG = (20, 22, 26)
HEADLINE_FG = (255, 196, 64)
FOOTER_FG = (236, 236, 236)
FRAME = (255, 196, 64)
#: Diagonal mark: light letters with a dark outline, both partly transparent, so they
#: read on the grey background, on skin and on dark hair without hiding the face.
DIAG_FILL = (255, 255, 255, 110)
DIAG_STROKE = (0, 0, 0, 120)
DIAG_ANGLE = 32.0


class MarkingError(ValueError):
    """An image cannot be marked (not decodable, empty)."""


@dataclass(frozen=True)
class MarkInfo:
    """What the bands say about an image.

    ``case_number`` None means the image belongs to no case (``s2f analyze --composite``);
    ``composite_id``/``version`` None means it is not stored, and ``reference`` (e.g.
    the audio's sha256) names what it was made from instead; ``note`` is a short remark
    printed on its own line (e.g. which sex, when both are shown).
    """

    case_number: str | None
    composite_id: int | None
    version: int | None
    view: str
    note: str = ""
    reference: str = ""

    def footer_lines(self) -> tuple[str, ...]:
        """The bottom band's lines: identification, the note (if any), the disclaimer."""
        case = f"Case {self.case_number}" if self.case_number else "No case"
        ident = (f"composite #{self.composite_id} v{self.version}" if self.composite_id is not None
                 else self.reference or "not stored in a case")
        first = f"{case} \u00b7 {ident} \u00b7 {self.view.replace('_', '-')} view"
        return (first, self.note, DISCLAIMER) if self.note else (first, DISCLAIMER)

    def text_chunks(self) -> dict[str, str]:
        """PNG text chunks (a second, machine-readable copy of the marking)."""
        return {
            "Title": HEADLINE,
            "Description": " / ".join(self.footer_lines()),
            "s2f:marking": MARK_VERSION,
            "s2f:case": self.case_number or "",
            "s2f:composite": "" if self.composite_id is None else str(self.composite_id),
            "s2f:version": "" if self.version is None else str(self.version),
            "s2f:view": self.view,
        }


@dataclass(frozen=True)
class Layout:
    """Where the parts of a marked image are (pixels)."""

    width: int
    face_height: int
    top: int
    bottom: int
    frame: int

    @property
    def height(self) -> int:
        return self.top + self.face_height + self.bottom

    @property
    def face_box(self) -> tuple[int, int, int, int]:
        return (0, self.top, self.width, self.top + self.face_height)


def layout_for(width: int, height: int, footer_lines: int = 2) -> Layout:
    """The marked layout for a render of ``width`` x ``height`` (after scaling up to MIN_WIDTH)."""
    if width <= 0 or height <= 0:
        raise MarkingError("empty image")
    w = max(int(width), MIN_WIDTH)
    h = int(round(height * w / width))
    bottom = int(round(w * (BOTTOM_LINE_FRACTION * footer_lines + BOTTOM_MARGIN_FRACTION)))
    return Layout(w, h, int(round(w * TOP_FRACTION)), bottom, max(2, int(round(w * FRAME_FRACTION))))


@functools.lru_cache(maxsize=64)
def _font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(resources_dir()) / "fonts" / name), size)


def _fit(draw: ImageDraw.ImageDraw, text: str, max_w: float, max_h: float, bold: bool = True) -> ImageFont.FreeTypeFont:
    """The largest font (<= max_h px) whose rendering of ``text`` is at most ``max_w`` wide."""
    size = max(6, int(max_h))
    while size > 6:
        font = _font(size, bold)
        if draw.textlength(text, font=font) <= max_w:
            return font
        size -= 1
    return _font(6, bold)


def _band(width: int, height: int, lines: tuple[str, ...], colours: tuple[tuple[int, int, int], ...],
          bold: tuple[bool, ...]) -> Image.Image:
    band = Image.new("RGB", (width, height), BAND_BG)
    draw = ImageDraw.Draw(band)
    n = len(lines)
    slot = height / n
    for i, (text, colour, b) in enumerate(zip(lines, colours, bold)):
        font = _fit(draw, text, width * 0.94, slot * (0.62 if n == 1 else 0.58), b)
        draw.text((width / 2, slot * (i + 0.5)), text, font=font, fill=colour, anchor="mm")
    return band


def render_bands(width: int, face_height: int, info: MarkInfo) -> tuple[Image.Image, Image.Image]:
    """The top and bottom bands (frame included) for a marked image of this size.

    Deterministic: a checker renders them again and compares them with a file.
    """
    lines = info.footer_lines()
    lay = layout_for(width, face_height, len(lines))
    top = _band(lay.width, lay.top, (HEADLINE,), (HEADLINE_FG,), (True,))
    colours = (FOOTER_FG, HEADLINE_FG, HEADLINE_FG)[:len(lines)] if len(lines) == 3 else (FOOTER_FG, HEADLINE_FG)
    bold = (True, True, False) if len(lines) == 3 else (True, False)
    bottom = _band(lay.width, lay.bottom, lines, colours, bold)
    f = lay.frame
    for band, edge in ((top, "top"), (bottom, "bottom")):
        d = ImageDraw.Draw(band)
        w, h = band.size
        d.rectangle((0, 0, f - 1, h - 1), fill=FRAME)
        d.rectangle((w - f, 0, w - 1, h - 1), fill=FRAME)
        if edge == "top":
            d.rectangle((0, 0, w - 1, f - 1), fill=FRAME)
        else:
            d.rectangle((0, h - f, w - 1, h - 1), fill=FRAME)
    return top, bottom


@functools.lru_cache(maxsize=8)
def _diagonal(size: tuple[int, int]) -> Image.Image:
    """An RGBA overlay with the diagonal mark repeated across the face (cached per size; not mutated)."""
    w, h = size
    diag = int((w * w + h * h) ** 0.5) + 2
    layer = Image.new("RGBA", (diag, diag), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = _fit(draw, DIAGONAL, diag * 0.62, w * 0.075)
    stroke = max(1, font.size // 14)
    step = int(font.size * 4.2)
    # Lines of text across the whole (rotated) square; the centre line runs through the face.
    for k in range(-3, 4):
        y = diag / 2 + k * step
        draw.text((diag / 2, y), DIAGONAL, font=font, fill=DIAG_FILL, anchor="mm",
                  stroke_width=stroke, stroke_fill=DIAG_STROKE)
    layer = layer.rotate(DIAG_ANGLE, resample=Image.Resampling.BICUBIC)
    left, top = (diag - w) // 2, (diag - h) // 2
    return layer.crop((left, top, left + w, top + h))


def _png(img: Image.Image, info: MarkInfo | None) -> bytes:
    meta = PngImagePlugin.PngInfo()
    for k, v in (info.text_chunks() if info is not None else {}).items():
        meta.add_itxt(k, v)
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=meta, optimize=False, compress_level=3)  # as the renderer
    return buf.getvalue()


def mark_image(png: bytes, info: MarkInfo) -> bytes:
    """The marked PNG for an unmarked render (deterministic for the same input)."""
    try:
        with Image.open(io.BytesIO(png)) as im:
            face = im.convert("RGB")
    except Exception as exc:  # noqa: BLE001 - any decoder failure is one clear error
        raise MarkingError(f"not a readable image: {exc}") from exc
    lay = layout_for(*face.size, len(info.footer_lines()))
    if face.size != (lay.width, lay.face_height):
        face = face.resize((lay.width, lay.face_height), Image.Resampling.LANCZOS)
    face = Image.alpha_composite(face.convert("RGBA"), _diagonal(face.size)).convert("RGB")
    d = ImageDraw.Draw(face)
    f = lay.frame
    d.rectangle((0, 0, f - 1, lay.face_height - 1), fill=FRAME)
    d.rectangle((lay.width - f, 0, lay.width - 1, lay.face_height - 1), fill=FRAME)
    top, bottom = render_bands(lay.width, lay.face_height, info)
    out = Image.new("RGB", (lay.width, lay.height), BAND_BG)
    out.paste(top, (0, 0))
    out.paste(face, (0, lay.top))
    out.paste(bottom, (0, lay.top + lay.face_height))
    return _png(out, info)


def side_by_side(marked: list[bytes], gap: int = 8) -> bytes:
    """Marked images next to each other (e.g. both sexes when the sex is inconclusive).

    Each panel keeps its own bands and diagonal mark, so neither half can be cut out
    unmarked. The PNG keeps the text chunks of the first panel plus a ``s2f:panels`` count.
    """
    if not marked:
        raise MarkingError("nothing to put side by side")
    imgs = [Image.open(io.BytesIO(b)).convert("RGB") for b in marked]
    h = max(i.height for i in imgs)
    w = sum(i.width for i in imgs) + gap * (len(imgs) - 1)
    out = Image.new("RGB", (w, h), BAND_BG)
    x = 0
    for i in imgs:
        out.paste(i, (x, 0))
        x += i.width + gap
    meta = PngImagePlugin.PngInfo()
    meta.add_itxt("Title", HEADLINE)
    meta.add_itxt("s2f:marking", MARK_VERSION)
    meta.add_itxt("s2f:panels", str(len(imgs)))
    buf = io.BytesIO()
    out.save(buf, format="PNG", pnginfo=meta, optimize=False, compress_level=3)
    return buf.getvalue()


def split_panels(png: bytes, widths: list[int], gap: int = 8) -> list[bytes]:
    """Undo :func:`side_by_side` given the panel widths (for checks)."""
    im = Image.open(io.BytesIO(png)).convert("RGB")
    out, x = [], 0
    for w in widths:
        buf = io.BytesIO()
        im.crop((x, 0, x + w, im.height)).save(buf, format="PNG")
        out.append(buf.getvalue())
        x += w + gap
    return out


def verify_marking(png: bytes, info: MarkInfo) -> list[str]:
    """Problems with the marking of a PNG (empty list: the marking is there and says ``info``).

    The top and bottom bands are rendered afresh for the image's width and compared
    pixel by pixel: at most 0.02 % of a band's pixels may differ by more than 48 grey
    levels (one changed character of the case number changes about 0.15 %), which
    absorbs anti-aliasing noise but not a missing, altered or other case's band.
    """
    try:
        with Image.open(io.BytesIO(png)) as im:
            img = im.convert("RGB")
    except Exception as exc:  # noqa: BLE001
        return [f"not a readable image: {exc}"]
    w = img.width
    lay = layout_for(w, w, len(info.footer_lines()))  # band heights depend on the width and line count
    face_h = img.height - lay.top - lay.bottom
    if w < MIN_WIDTH or face_h <= 0:
        return [f"image {img.width}x{img.height} is too small to carry the marking"]
    top, bottom = render_bands(w, face_h, info)
    problems = []
    for name, ref, box in (("top band", top, (0, 0, w, lay.top)),
                           ("bottom band", bottom, (0, img.height - lay.bottom, w, img.height))):
        hist = ImageChops.difference(img.crop(box), ref).convert("L").histogram()
        bad = sum(hist[49:])
        if bad > 0.0002 * ref.width * ref.height:
            problems.append(f"{name} differs from the expected marking ({bad} of {ref.width * ref.height} pixels)")
    return problems


def is_marked(parameters: Mapping[str, Any]) -> bool:
    """Whether a stored composite's images were stored marked (record ``render.marking``).

    Takes stored (typed :class:`CompositeParam`) parameters or the renderer's dict form.
    """
    p = parameters.get("render.marking")
    value = p.value if isinstance(p, CompositeParam) else p.get("value", "") if isinstance(p, dict) else ""
    return str(value).startswith("composite-mark-")
