"""The sample corpus: the generator writes every file, and the committed corpus/ matches it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import docx
import pypdf
import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "corpus"


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_sample_corpus", ROOT / "scripts" / "make_sample_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    gen.write_corpus(out)
    return out


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _pdf_pages(path: Path) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(path).pages]


def _docx_texts(path: Path) -> list[str]:
    document = docx.Document(path)
    texts = [p.text for p in document.paragraphs]
    texts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return texts


def _text_of(path: Path) -> str:
    """Whole text of any sample file, decoded the way its format requires."""
    if path.suffix == ".pdf":
        return "\n".join(_pdf_pages(path))
    if path.suffix == ".docx":
        return "\n".join(_docx_texts(path))
    encoding = "gb18030" if path.name.endswith("_gbk.txt") else "utf-8"
    return path.read_bytes().decode(encoding)


def test_generator_writes_every_expected_file(fresh: Path) -> None:
    written = sorted(str(p.relative_to(fresh)) for p in fresh.rglob("*") if p.is_file())
    assert written == sorted(gen.ALL_FILES)
    assert sorted(gen.ALL_FILES) == [
        "laws/vocational_education_measures_2018_gbk.txt",
        "laws/vocational_education_measures_2021_gbk.txt",
        "metadata.csv",
        "notices/1x_pilot_plan.docx",
        "notices/certificate_measures_amendment.txt",
        "notices/pilot_work_notice.html",
        "notices/production_education_notice.txt",
        "papers/1x_pilot_review.md",
        "rules/certificate_management_measures.pdf",
    ]


@pytest.mark.parametrize("rel", gen.DOCUMENT_FILES)
def test_every_document_ends_with_the_sample_note(fresh: Path, rel: str) -> None:
    text = _text_of(fresh / rel)
    assert _squash(gen.SAMPLE_NOTE) in _squash(text)
    # The note closes the document body so it never competes with title detection.
    assert not _squash(text).startswith("【示例文档】")


def test_laws_are_gb18030_not_utf8(fresh: Path) -> None:
    for rel in ("laws/vocational_education_measures_2018_gbk.txt", "laws/vocational_education_measures_2021_gbk.txt"):
        raw = (fresh / rel).read_bytes()
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        assert raw.decode("gb18030").startswith("示例市职业教育促进办法\n")
    current = (fresh / "laws/vocational_education_measures_2021_gbk.txt").read_bytes().decode("gb18030")
    assert "《示例市职业教育促进办法》（示政发〔2018〕8号）同时废止" in current


def test_pdf_has_pages_header_and_article_12_on_page_two(fresh: Path) -> None:
    pages = _pdf_pages(fresh / gen.PDF_FILE)
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert text.startswith(gen.MEASURES_TITLE)
        assert text.rstrip().endswith(f"— {number} —")
    assert "第十二条证书有效期为三年，自颁证之日起计算。" in _squash(pages[1])
    assert "第九条证书由培训评价组织颁发。" in _squash(pages[1])
    assert "（教职成〔2019〕6号）" in _squash(pages[0])


def test_docx_has_title_number_and_table(fresh: Path) -> None:
    document = docx.Document(fresh / gen.DOCX_FILE)
    assert document.core_properties.title == gen.PILOT_PLAN_TITLE
    assert [p.text for p in document.paragraphs[:2]] == [gen.PILOT_PLAN_TITLE, "教职成〔2019〕6号"]
    header = [cell.text for cell in document.tables[0].rows[0].cells]
    assert header == ["试点证书领域", "培训评价组织", "首批试点院校数"]
    assert any("职业技能等级证书由培训评价组织颁发" in p.text for p in document.paragraphs)


def test_generator_is_byte_for_byte_deterministic(fresh: Path, tmp_path: Path) -> None:
    gen.write_corpus(tmp_path)
    for rel in gen.ALL_FILES:
        assert (tmp_path / rel).read_bytes() == (fresh / rel).read_bytes(), rel


@pytest.mark.parametrize("rel", gen.ALL_FILES)
def test_committed_corpus_matches_generator(fresh: Path, rel: str) -> None:
    committed, regenerated = COMMITTED / rel, fresh / rel
    assert committed.is_file(), f"{rel} missing: run python scripts/make_sample_corpus.py"
    if committed.suffix == ".docx":
        assert _docx_texts(committed) == _docx_texts(regenerated)
    elif committed.suffix == ".pdf":
        assert _pdf_pages(committed) == _pdf_pages(regenerated)
    else:
        assert committed.read_bytes() == regenerated.read_bytes()
