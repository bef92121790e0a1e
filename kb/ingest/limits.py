"""What reading a file may cost: size, page and DOCX limits, the OCR budget, and reasons formats share."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from kb.errors import IngestError

DEFAULT_MAX_BYTES = 200 * 2**20
MAX_PAGES = 2000  # a PDF longer than this is an archive or a hostile file, not a policy document
# Uncompressed size of all parts of a DOCX: checked before parsing, so a zip bomb is refused
# without being inflated. Real documents stay far below it (images barely compress).
MAX_DOCX_EXPANDED = 100 * 2**20
# The body of a DOCX (word/document.xml) and its paragraphs: python-docx builds a tree of every
# element, and each paragraph may become a chunk to embed. A 95 MB body of one-line paragraphs ran
# for half an hour at 4 GB; a 2,000-page real document has about 40,000 paragraphs and 20 MB of XML.
MAX_DOCX_XML = 40 * 2**20
MAX_DOCX_PARAGRAPHS = 100_000
# OCR runs ~2-3 s a page on two cores. A file may have this many pages read by OCR; an upload (a
# visitor's files together) gets the smaller budget of `ocr_budget` in app.py, and a deadline.
MAX_OCR_PAGES = 300

SYMLINK_LOOP = "symlink loop (the link leads back to itself through other links)"


@dataclass
class OcrBudget:
    """What OCR may still spend within an `ocr_budget` block: pages, and until when (monotonic clock)."""

    pages: int
    deadline: float
    seconds: float


_OCR_BUDGET: ContextVar[OcrBudget | None] = ContextVar("ocr_budget", default=None)


@contextmanager
def ocr_budget(pages: int, seconds: float) -> Iterator[OcrBudget]:
    """Files read inside this block share `pages` pages of OCR and `seconds` of time from now on.

    A file needing more pages than are left is refused before any is read; once the time is up, the
    file being read is refused. Files needing no OCR are unaffected. The app gives each upload one.
    """
    budget = OcrBudget(pages, time.monotonic() + seconds, seconds)
    token = _OCR_BUDGET.set(budget)
    try:
        yield budget
    finally:
        _OCR_BUDGET.reset(token)


def ocr_pages_allowed() -> int:
    budget = _OCR_BUDGET.get()
    return MAX_OCR_PAGES if budget is None else min(MAX_OCR_PAGES, budget.pages)


def reserve_ocr(pages: int, total: int, source: str) -> None:
    """Take `pages` pages from the budgets, or refuse the file. The count stops early, just past
    what is allowed, so a refused file's count is a lower bound."""
    if pages > MAX_OCR_PAGES:
        raise IngestError(source, f"too many pages need OCR (more than {MAX_OCR_PAGES} of {total}; "
                                  f"limit {MAX_OCR_PAGES} a file)")
    budget = _OCR_BUDGET.get()
    if budget is not None and pages:
        if pages > budget.pages:
            raise IngestError(source, f"too many pages need OCR (at least {pages} of {total}; "
                                      f"{budget.pages} left of this upload's budget)")
        budget.pages -= pages


def check_ocr_deadline(source: str) -> None:
    budget = _OCR_BUDGET.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise IngestError(source, f"OCR took too long (over {budget.seconds:g} s for this upload)")
