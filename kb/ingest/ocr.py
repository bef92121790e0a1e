"""OCR of PDF pages: render a page, read its text boxes with RapidOCR, put them back in reading order."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any


class Renderer:
    """Renders pages of one PDF to images for OCR; opened only when a page needs it."""

    def __init__(self, path: Path):
        import pypdfium2

        self._doc = pypdfium2.PdfDocument(str(path))

    def render(self, index: int) -> Any:
        page = self._doc[index]
        width, height = page.get_size()
        # Scale 2 reads A4 small print well; larger pages (scans stored at 1 pt a pixel) are
        # capped at the size of an A4 page at scale 2, beyond which OCR slows but reads no better.
        scale = min(2.0, 1700 / max(width, height, 1))
        return page.render(scale=scale).to_numpy()

    def close(self) -> None:
        self._doc.close()


def is_blank(image: Any) -> bool:
    return float((image < 160).mean()) < 1e-4


@functools.lru_cache(maxsize=1)
def _ocr_engine() -> Any:
    """The RapidOCR engine, built on first use and reused: loading its models takes a second."""
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def ocr_lines(image: Any) -> list[str]:
    """OCR a page image -> text lines in reading order; "" marks a paragraph start."""
    result, _ = _ocr_engine()(image)
    boxes = [
        (min(p[0] for p in box), min(p[1] for p in box), max(p[1] for p in box), text)
        for box, text, score in (result or [])
        if float(score) >= 0.5 and text.strip()
    ]
    rows = _group_rows(boxes)
    if not rows:
        return []
    body_left = sorted(row[0] for row in rows)[len(rows) // 2]
    lines: list[str] = []
    for left, height, text in rows:
        # Indented (or centred) lines start a paragraph.
        if left > body_left + 1.2 * height:
            lines.append("")
        lines.append(text)
    return lines


def _group_rows(boxes: list[tuple[float, float, float, str]]) -> list[tuple[float, float, str]]:
    """OCR boxes (left, top, bottom, text) -> rows (left, height, text), top to bottom."""
    rows: list[list[tuple[float, float, float, str]]] = []
    for box in sorted(boxes, key=lambda b: (b[1] + b[2]) / 2):
        middle = (box[1] + box[2]) / 2
        if rows:
            last = rows[-1][-1]
            if abs(middle - (last[1] + last[2]) / 2) < 0.5 * (last[2] - last[1]):
                rows[-1].append(box)
                continue
        rows.append([box])
    out = []
    for row in rows:
        row.sort(key=lambda b: b[0])
        height = sorted(b[2] - b[1] for b in row)[len(row) // 2]
        out.append((row[0][0], height, " ".join(b[3].strip() for b in row)))
    return out
