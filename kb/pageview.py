"""The 原文 view of a PDF citation: the cited pages rendered as an image (pypdfium2), with the
quoted span's character boxes highlighted, so a quote can be checked against the printed page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kb.errors import IngestError

HIGHLIGHT = (255, 200, 0, 110)  # translucent yellow over the quoted characters
_SPACE = re.compile(r"\s+")
_MIN_PART = 4  # shortest piece of a quote worth marking on a page (a quote may cross a page break)


@dataclass
class PageView:
    """Rendered pages (PIL images, top to bottom) and how many characters of the quote were marked."""

    image: object  # PIL.Image.Image: the pages stacked vertically
    pages: tuple[int, ...]
    marked_chars: int


def _norm_with_map(text: str) -> tuple[str, list[int]]:
    """`text` without whitespace, and for each kept character its index in `text`."""
    kept, where = [], []
    for i, ch in enumerate(text):
        if not ch.isspace():
            kept.append(ch)
            where.append(i)
    return "".join(kept), where


def _longest_prefix(needle: str, hay: str) -> tuple[int, int]:
    """(position in hay, length) of the longest prefix of `needle` found in `hay`; (−1, 0) if none."""
    for k in range(len(needle), _MIN_PART - 1, -1):
        at = hay.find(needle[:k])
        if at >= 0:
            return at, k
    return -1, 0


def _char_boxes(textpage, indices: list[int]) -> list[tuple[float, float, float, float]]:
    return [textpage.get_charbox(i) for i in indices]


def _line_rects(boxes: list[tuple[float, float, float, float]]) -> list[tuple[float, float, float, float]]:
    """Character boxes merged into one rectangle per line (boxes that share a baseline)."""
    rects: list[list[float]] = []
    for left, bottom, right, top in sorted(boxes, key=lambda b: (-b[1], b[0])):
        if rects and abs(rects[-1][1] - bottom) < (top - bottom) * 0.5:
            r = rects[-1]
            r[0], r[2], r[3] = min(r[0], left), max(r[2], right), max(r[3], top)
        else:
            rects.append([left, bottom, right, top])
    return [tuple(r) for r in rects]


def render_quote(pdf_path: Path, pages: tuple[int, ...], quote: str, scale: float = 1.5) -> PageView:
    """The pages `pages` (1-based) of a PDF with `quote` highlighted where it is printed.

    The quote is matched with whitespace ignored (the text layer breaks lines where the indexed
    text does not); a quote that runs onto the next page is marked on both.
    Raises IngestError naming the file when it cannot be opened.
    """
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(pdf_path))
    except (pdfium.PdfiumError, OSError) as e:
        raise IngestError(str(pdf_path), f"cannot open the PDF ({e})") from e
    try:
        wanted = [p for p in pages if 1 <= p <= len(pdf)] or [1]
        texts = [_page_text(pdf[p - 1]) for p in wanted]
        marks = _place(_SPACE.sub("", quote), [hay for hay, _where in texts])
        images = [_render(pdf[p - 1], [where[i] for i in marks[n]], scale) for n, (p, (_hay, where)) in
                  enumerate(zip(wanted, texts))]
    finally:
        pdf.close()
    return PageView(_stack(images), tuple(wanted), sum(map(len, marks)))


def _page_text(page) -> tuple[str, list[int]]:
    """A page's text without whitespace, with each character's index in the text layer."""
    textpage = page.get_textpage()
    text = textpage.get_text_range()
    if len(text) != textpage.count_chars():  # indices would not name characters: mark nothing
        return "", []
    return _norm_with_map(text)


def _place(quote: str, pages: list[str]) -> list[list[int]]:
    """For each page, the positions (in its whitespace-free text) of the part of `quote` it prints.

    Each part goes where the longest remaining prefix is printed, and later parts only on later
    pages: a quote runs from the end of one page onto the next, never backwards.
    """
    marks: list[list[int]] = [[] for _ in pages]
    first = 0
    while quote and first < len(pages):
        found = [(_longest_prefix(quote, hay), n) for n, hay in enumerate(pages) if n >= first]
        (at, k), n = max(found, key=lambda f: (f[0][1], -f[1]))
        if k == 0:
            break
        marks[n].extend(range(at, at + k))
        quote, first = quote[k:], n + 1
    return marks


def _render(page, indices: list[int], scale: float):
    """The page as an RGB image with the characters at `indices` highlighted line by line."""
    from PIL import Image, ImageDraw

    textpage = page.get_textpage()
    rects = _line_rects(_char_boxes(textpage, indices))
    _width, height = page.get_size()
    image = page.render(scale=scale).to_pil().convert("RGBA")
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for left, bottom, right, top in rects:
        draw.rectangle([left * scale - 1, (height - top) * scale - 1, right * scale + 1,
                        (height - bottom) * scale + 1], fill=HIGHLIGHT)
    return Image.alpha_composite(image, layer).convert("RGB")


def _stack(images: list) -> object:
    from PIL import Image

    width = max(im.width for im in images)
    out = Image.new("RGB", (width, sum(im.height for im in images)), "white")
    y = 0
    for im in images:
        out.paste(im, (0, y))
        y += im.height
    return out
