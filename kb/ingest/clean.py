"""Text cleanup and decoding every format shares: characters, lines, encodings, garbled text, titles."""

from __future__ import annotations

import functools
import re
import unicodedata

from kb.errors import IngestError

# --- character classes -------------------------------------------------------------------

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# CJK punctuation, fullwidth forms, and the quotes/dashes Chinese text uses.
_CJK_PUNCT = "\u3001-\u303f\uff00-\uffef\u2018-\u201f\u2026\u2014\u00b7"
CJK_RE = re.compile(f"[{_CJK}]")
WIDE_RE = re.compile(f"[{_CJK}{_CJK_PUNCT}]")
# Identity-encoded fonts without a ToUnicode map repeat one character ("佛佛佛佛").
_CJK_REPEAT_RE = re.compile(f"([{_CJK}])\\1{{2,}}")
_SPACE_RUN = re.compile(r" {2,}")
_SPACE_BETWEEN_CJK = re.compile(f"(?<=[{_CJK}{_CJK_PUNCT}]) +(?=[{_CJK}{_CJK_PUNCT}])")
# PDF extractors put spaces between Chinese and digits ("2023 年 3 月"); authors rarely do.
_SPACE_CJK_DIGIT = re.compile(f"(?<=[{_CJK}]) +(?=[0-9])|(?<=[0-9]) +(?=[{_CJK}])")
# 第X章/节/条 keeps one space before its heading text, as in "第一章 总则".
_LEADING_LABEL = re.compile(r"^(第[一二三四五六七八九十百千零〇两\d]+[编章节条])\s+(?=\S)")

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_SPACES = "\t\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f\u3000"
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}

# Text-layer quality: a page whose share of suspicious characters passes this is garbled.
GARBLED_SHARE = 0.08
MIN_PAGE_CHARS = 10  # fewer non-space characters than this: treat the page as having no text


# --- text cleanup ------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _char_table() -> dict[int, str | None]:
    """str.translate table: drop zero-width/control chars, unify spaces, undo ligatures."""
    table: dict[int, str | None] = {ord(c): None for c in _ZERO_WIDTH}
    table.update({ord(c): " " for c in _SPACES})
    table.update({ord(k): v for k, v in _LIGATURES.items()})
    table.update({c: None for c in range(32) if c != 10})
    table.update({c: None for c in range(0x7F, 0xA0)})
    # Private-use characters are icon-font glyphs (Wingdings bullets); they never read.
    table.update({c: None for c in range(0xE000, 0xF900)})
    # Kangxi radicals and compatibility ideographs look like ordinary characters (⼀ vs 一)
    # but do not match them; PDFs made on some systems are full of them. Map only these,
    # never the whole text (NFKC would also rewrite 〔〕 and fullwidth punctuation).
    for start, end in ((0x2E80, 0x2FDF), (0xF900, 0xFAFF)):
        for code in range(start, end + 1):
            mapped = unicodedata.normalize("NFKC", chr(code))
            if mapped != chr(code) and len(mapped) == 1:
                table[code] = mapped
    return table


def clean_line(line: str, *, tight_digits: bool = False) -> str:
    line = _SPACE_RUN.sub(" ", line).strip()
    label = _LEADING_LABEL.match(line)
    head, rest = (label.group(1) + " ", line[label.end():]) if label else ("", line)
    rest = _SPACE_BETWEEN_CJK.sub("", rest)
    if tight_digits:
        rest = _SPACE_CJK_DIGIT.sub("", rest)
    return head + rest


def split_lines(text: str) -> list[str]:
    """Raw text -> lines with unified line ends and characters, not yet cleaned."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n").replace("\x0c", "\n")
    return text.translate(_char_table()).split("\n")


def one_line(text: str) -> str:
    """A title or heading spread over several lines or cells -> one cleaned line."""
    return clean_line(" ".join(text.split()))


def finish(lines: list[str]) -> str:
    """Cleaned lines -> text: runs of blank lines become one, no blank lines at the ends."""
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def clean_text(text: str, *, tight_digits: bool = False) -> str:
    return finish([clean_line(line, tight_digits=tight_digits) for line in split_lines(text)])


# --- decoding ----------------------------------------------------------------------------


def decode(data: bytes, source: str) -> str:
    """Bytes of a text file -> str: BOMs, UTF-16 without BOM, then UTF-8, then GB18030."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"),
                       (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return _strict(data, codec, source)
    sample = data[:4096]
    if 0 in sample:
        # UTF-8 and GB18030 text never holds NUL bytes; UTF-16 without a BOM does, one per
        # ASCII character (line ends, digits), on the odd bytes for little-endian.
        codec = "utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0) else "utf-16-be"
        text = _strict(data, codec, source)
        if garbled_share(text) > GARBLED_SHARE:
            raise IngestError(source, "undecodable text (binary data, not UTF-16)")
        return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data" and e.start >= len(data) - 3:
            return data[: e.start].decode("utf-8")  # a file cut inside its last character
        # Many Chinese characters of valid UTF-8 before the first bad byte: the file was
        # stitched from two encodings, and reading it all as GB18030 would be mojibake.
        if len(CJK_RE.findall(data[: e.start].decode("utf-8"))) >= 8:
            raise IngestError(
                source, f"undecodable text (mixed encodings: UTF-8 up to byte {e.start}, then not)"
            ) from None
    text = _strict(data, "gb18030", source)
    if garbled_share(text) > GARBLED_SHARE:
        raise IngestError(source, "undecodable text (not UTF-8, UTF-16 or GB18030)")
    return text


def _strict(data: bytes, codec: str, source: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        raise IngestError(source, "undecodable text (not UTF-8, UTF-16 or GB18030)") from None


def garbled_share(text: str) -> float:
    """Share of non-space characters that signal a broken text layer or a wrong encoding.

    Suspicious: control, private-use, unassigned and replacement characters; Latin-1 and
    Latin Extended letters and symbols (GBK bytes shown as Latin-1: "»ùÒò"); spacing
    modifiers (˘ˇ); and CJK characters repeated three or more times in a row, which is what
    identity-encoded fonts without a ToUnicode map produce ("佛佛佛佛").
    """
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    bad = sum(1 for c in chars if _suspicious(c))
    # Counted twice: a run like this is far stronger evidence than a stray accented letter.
    bad += 2 * sum(len(m.group()) for m in _CJK_REPEAT_RE.finditer(text))
    return bad / len(chars)


def _suspicious(c: str) -> bool:
    code = ord(c)
    if c == "\ufffd" or 0xE000 <= code <= 0xF8FF or 0x80 <= code <= 0x9F:
        return True
    if 0xA1 <= code <= 0x2FF and c not in "§°±·×÷©®µ¶":
        return True
    return unicodedata.category(c) in ("Cc", "Co", "Cn", "Cs") and c not in "\n\t"


def meaningful_title(title: str) -> str:
    """A container title worth keeping, or "" for empty, file-name-like or garbled ones."""
    title = one_line(title)
    if re.match(r"(?i)^(microsoft (word|powerpoint|excel) - |untitled|无标题)", title):
        return ""
    if re.search(r"(?i)\.(docx?|wps|pdf|txt|rtf|xlsx?|pptx?|html?)$", title):
        return ""
    if len(title) < 2 or garbled_share(title) > 0.2 or "?" in title:
        return ""
    return title
