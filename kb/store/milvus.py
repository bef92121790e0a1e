"""Milvus (a Milvus Lite .db file, or a Milvus server) holding the vectors and the BM25 indexes.

Milvus does the searching: its own BM25 over the very tokens the local BM25 counts (kb.tokenize,
sent space-separated, so case and width are folded alike and both score a row the same), exact or
HNSW inner product over the vectors, restricted to the documents the filters allow; the index
folder keeps the segments, and this store maps Milvus' chunk ids back to their rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.errors import BadIndexError, ConfigError
from kb.store import SearchPlan, Store
from kb.store.faiss_bm25 import B, BM25, K1, top_positive
from kb.tokenize import analyzer_fingerprint
from kb.types import Ranked

if TYPE_CHECKING:
    from kb.ondisk.manifest import DocEntry, Manifest

INSTALL = "pip install pymilvus==3.0.2 milvus-lite==3.2.2"
STATE_FILE = "milvus.json"
# 2: rows hold PolicyKB's tokens, not the chunk text; filters go by document id
SCHEMA_VERSION = 2
DESCRIPTION = "PolicyKB chunks"
# a collection property: schema, model and dimension; only a collection that has one is ever dropped
IDENTITY = "policykb.identity"
MAX_BYTES = 65_535  # Milvus' longest VARCHAR
BATCH = 256
# a filter lists the allowed documents, or the excluded ones when fewer, up to this many in one expression
MAX_LISTED = 20_000
log = logging.getLogger(__name__)


def _pymilvus():
    try:
        import pymilvus
    except ImportError:
        raise ConfigError(f"the milvus backend needs pymilvus: {INSTALL}") from None
    return pymilvus


def is_lite(uri: str) -> bool:
    """A .db path is a Milvus Lite file, run inside this process; anything else is a server."""
    return not uri.startswith(("http://", "https://", "tcp://")) and uri.endswith(".db")


def check_uri(uri: str) -> None:
    """Refuse a URI that is neither a Milvus Lite .db path nor a server address."""
    if not uri:
        raise ConfigError("the milvus backend needs --milvus-uri: a .db file (Milvus Lite) or http://host:19530")
    if not (is_lite(uri) or uri.startswith(("http://", "https://", "tcp://"))):
        raise ConfigError(f"--milvus-uri {uri!r}: give a Milvus Lite file ending in .db or a server address "
                          f"http://host:19530")


def connect(uri: str, *, create: bool = False):
    """A client for `uri`; a missing Lite file or an unreachable server is an error naming the URI."""
    pymilvus = _pymilvus()
    if is_lite(uri):
        try:
            import milvus_lite  # noqa: F401
        except ImportError:
            raise ConfigError(f"--milvus-uri {uri} is a Milvus Lite file, which needs milvus-lite: {INSTALL}") from None
        path = Path(uri)
        if not create and not path.exists():
            raise BadIndexError(f"the Milvus Lite file {uri} is missing; rebuild with `python -m kb index CORPUS "
                                f"--index INDEX --backend milvus --milvus-uri {uri}`")
        path.parent.mkdir(parents=True, exist_ok=True)
        _quiet_lite()
    try:
        client = pymilvus.MilvusClient(uri=uri, timeout=10)
        client.list_collections()
    except pymilvus.exceptions.MilvusException as e:
        hint = ("; Milvus Lite serves one process at a time: stop the other process using it (app.py, another "
                "`kb index`) or use a Milvus server" if is_lite(uri) else "")
        raise BadIndexError(f"cannot reach Milvus at {uri}: {e.message}{hint}") from e
    return client


def _quiet_lite() -> None:
    """Milvus Lite runs in this process: its jieba would announce its dictionary, and a file held by
    another process would print a traceback before the error this module raises says so plainly."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("milvus_lite.server_manager").setLevel(logging.CRITICAL)


def release(uri: str) -> None:
    """Stop the Milvus Lite engine this process runs for `uri` (every client of it here), so that
    another process can open the file; nothing for a server."""
    if is_lite(uri):
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)


@dataclass(frozen=True)
class MilvusOptions:
    """Where the index lives in Milvus (`--milvus-uri`, `--milvus-collection`)."""

    uri: str = ""  # a Milvus Lite file ending in .db, or http://host:19530
    collection: str = ""  # "" names it after the index folder

    def __post_init__(self) -> None:
        check_uri(self.uri)


@dataclass(frozen=True)
class MilvusRow:
    """One chunk as Milvus holds it; `words` and `grams` are what its two BM25 indexes count."""

    chunk_id: str
    doc_id: str
    content_hash: str  # the document's: a hit whose document changed since is not shown
    fingerprint: str  # of everything sent for the document's rows (see MilvusStore.sync)
    words: str  # the chunk's kb.tokenize.word_tokens as terms (see `terms`)
    grams: str  # its kb.tokenize.char_tokens, the same way
    vector: np.ndarray


def terms(tokens: list[str]) -> str:
    """Tokens as text that Milvus' analyzer splits back into exactly these tokens.

    A server splits at spaces, Milvus Lite (its "standard" analyzer) at every character that is not
    a letter or digit as well, which would cut 1+x or 2.5 apart; such a token goes as Q and its
    UTF-8 in hex, which no token can be (tokens are lower case, kb.tokenize.normalize).
    """
    return " ".join(t if t.isalnum() else "Q" + t.encode("utf-8").hex() for t in tokens)


def _doc_filter(allowed_docs: list[str], excluded_docs: list[str]) -> str:
    """The filters' outcome as a Milvus expression: the shorter of the two lists of documents
    (some must be allowed). An expression of 1,000 names took 10 ms a search on Milvus Lite here,
    of 20,000 names 1.2 s."""
    if not excluded_docs:
        return ""
    if len(excluded_docs) < len(allowed_docs):
        return f"not (doc_id in {_literal_list(excluded_docs)})"
    return f"doc_id in {_literal_list(allowed_docs)}"


def _literal(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a double-quoted string with \" and \\ escaped


def _literal_list(values: list[str]) -> str:
    return "[" + ", ".join(map(_literal, values)) + "]"


def _terms_analyzer(lite: bool) -> dict:
    """Splits the space-separated terms apart again: "whitespace" on a server; Milvus Lite has only
    "standard", which `terms` is written for."""
    return {"tokenizer": "standard" if lite else "whitespace"}


class MilvusStore(Store):
    """Chunks in one Milvus collection: words and grams (BM25 each) and dense vectors."""

    Options = MilvusOptions

    def __init__(self, client, uri: str, collection: str, contents, words: BM25, sent: dict[str, int] | None = None):
        self.client = client
        self.uri = uri
        self.collection = collection
        self.words = words  # the local term counts, for idf
        self.n = len(contents.chunks)
        self.sent = sent or {}  # what the last build sent: {"upserted", "deleted", "kept"}
        self.row_of = {c.chunk_id: row for row, c in enumerate(contents.chunks)}
        digests = {r.doc_id: r.content_hash for r in contents.records}
        self.digests = [digests[c.doc_id] for c in contents.chunks]
        self.doc_ids = [r.doc_id for r in contents.records]
        ordinal = {d: i for i, d in enumerate(self.doc_ids)}
        self.doc_of_row = np.array([ordinal[c.doc_id] for c in contents.chunks], dtype=np.int64)
        # the three searches of a question at once: a server answers them in parallel (Milvus Lite too, partly)
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="milvus-search")

    # ------------------------------------------------------------ writing

    @classmethod
    def sync(cls, writer, settings, *, embedder, kind: str, rebuild: bool) -> None:
        """Bring the collection in line with the writer's documents: delete the rows of documents
        gone or changed, send the rows of those new or changed, and no others.

        A document is current in Milvus when it holds all its rows with the fingerprint of its content
        and of everything that shapes its rows (schema, model, analyzers, chunking), so only the
        segments holding new or changed documents are read.
        """
        options = settings.store_options
        index_dir = writer.folder.resolve()
        if is_lite(options.uri) and index_dir in Path(options.uri).resolve().parents:
            raise ConfigError(f"--milvus-uri {options.uri} is inside the index folder {index_dir}, whose files "
                              f"PolicyKB writes and deletes; put the Milvus Lite file beside it")
        collection = options.collection or _collection_for(index_dir, options.uri)
        model = f"{embedder.name}/{embedder.model}"
        client = connect(options.uri, create=True)
        _ensure_collection(client, collection, embedder.dim, kind, settings.hnsw_m, model, rebuild)
        build = (f"{SCHEMA_VERSION} {model} {analyzer_fingerprint()} "
                 f"{settings.chunk_max_chars} {settings.chunk_min_chars} {settings.ocr}")
        wanted = {d: _fingerprint(build, d, e) for d, e in writer.documents.items()}
        held = _held(client, collection)
        current = {d for d, fp in wanted.items()
                   if d in held and held[d][0] == {fp} and len(held[d][1]) == writer.documents[d].chunks}
        sent: set[str] = set()
        for batch in _rows(writer, [d for d in writer.documents if d not in current], wanted):
            client.upsert(collection, [_entity(r) for r in batch])
            sent.update(r.chunk_id for r in batch)
        gone = [cid for d, (_, ids) in held.items() if d not in current for cid in ids if cid not in sent]
        for i in range(0, len(gone), BATCH):
            client.delete(collection, ids=gone[i: i + BATCH])
        client.flush(collection)
        total = sum(e.chunks for e in writer.documents.values())
        report = {"upserted": len(sent), "deleted": len(gone), "kept": total - len(sent)}
        log.info("milvus %s/%s: %s", options.uri, collection, report)
        state = {"uri": options.uri, "collection": collection, "schema": SCHEMA_VERSION, "chunks": total,
                 "last_build": report}
        (writer.folder / STATE_FILE).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")

    # ------------------------------------------------------------ loading

    @classmethod
    def open(cls, folder: Path, manifest: Manifest, contents, layout) -> "MilvusStore":
        path = Path(folder) / STATE_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise BadIndexError(f"{path} is unreadable ({e}); rebuild with --rebuild") from e
        if state.get("schema") != SCHEMA_VERSION:
            raise BadIndexError(f"{path} is from another PolicyKB version; update it with `python -m kb index "
                                f"CORPUS --index {folder}`")
        client = connect(state["uri"])
        if not client.has_collection(state["collection"]):
            raise BadIndexError(f"Milvus at {state['uri']} has no collection {state['collection']}; "
                                f"rebuild with `python -m kb index CORPUS --index {folder} --rebuild`")
        client.load_collection(state["collection"])
        return cls(client, state["uri"], state["collection"], contents, BM25.of_layout(layout, "words"),
                   state.get("last_build"))

    @cached_property
    def hnsw(self) -> bool:
        return self.client.describe_index(self.collection, "dense").get("index_type") == "HNSW"

    def close(self) -> None:
        """Let go of Milvus; for a Lite file this stops its engine in this process, so another can open it."""
        self._pool.shutdown()
        self.client.close()
        release(self.uri)

    # ------------------------------------------------------------ searching

    def idf(self, analyzer: str, tokens: list[str]) -> dict[str, float]:
        """Inverse document frequency over chunks, as FaissBM25Store.idf, from the index's own term counts."""
        if analyzer != "words":
            raise ValueError(f"the milvus store keeps idf for words, not {analyzer!r}")
        return self.words.idf(tokens)

    def search(self, plan: SearchPlan) -> dict[str, Ranked]:
        """Each channel's top k from Milvus, or with `plan.rrf_k` Milvus' own reciprocal-rank fusion
        of the three ("hybrid"); a row outside a list scores 0 on that channel. The weighted-term
        channels (`plan.weighted`) come from the local word counts (see `_weighted`)."""
        pymilvus = _pymilvus()
        if plan.allowed is not None and not plan.allowed.any():
            empty = Ranked(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
            return {"hybrid": empty} if plan.rrf_k is not None else {"dense": empty}
        expr = self._filter(plan.allowed)
        requests = {}
        for name, field_name in (("words", "words_bm25"), ("chars", "grams_bm25")):
            if plan.tokens.get(name):
                requests[name] = (field_name, [terms(plan.tokens[name])], {})
        vector = np.asarray(plan.vector, dtype=np.float32).reshape(-1).tolist()
        requests["dense"] = ("dense", [vector], {"ef": max(64, plan.k)} if self.hnsw else {})
        weighted = self._weighted(plan)
        try:
            if plan.rrf_k is not None:
                reqs = [pymilvus.AnnSearchRequest(data, f, {"params": params}, plan.k, expr=expr or None)
                        for f, data, params in requests.values()]
                result = self.client.hybrid_search(self.collection, reqs, pymilvus.RRFRanker(plan.rrf_k),
                                                   limit=plan.k, output_fields=["content_hash"])
                return {"hybrid": self._ranked(result[0], plan.allowed), **weighted}
            pending = {name: self._pool.submit(self.client.search, self.collection, data, filter=expr, limit=plan.k,
                                               anns_field=f, output_fields=["content_hash"],
                                               search_params={"params": params})
                       for name, (f, data, params) in requests.items()}
            return {**{name: self._ranked(fut.result()[0], plan.allowed, bm25=name != "dense")
                       for name, fut in pending.items()}, **weighted}
        except pymilvus.exceptions.MilvusException as e:
            raise BadIndexError(f"Milvus at {self.uri} failed to search {self.collection}: {e.message}") from e

    def _weighted(self, plan: SearchPlan) -> dict[str, Ranked]:
        """The weighted-term channels, scored here from the index's own word counts: Milvus' BM25 takes a
        query text whose every token counts the same, so it cannot weigh terms. Only the words' counts
        are kept here, as for `idf`."""
        ranked = {}
        for name, (analyzer, terms) in plan.weighted.items():
            if analyzer != "words":
                raise ValueError(f"the milvus store weighs terms of words, not {analyzer!r} (channel {name!r})")
            scores = self.words.weighted_scores(terms)
            rows = top_positive(scores, plan.k, plan.allowed)
            ranked[name] = Ranked(rows, scores[rows], exact=scores.__getitem__)
        return ranked

    def _filter(self, allowed: np.ndarray | None) -> str:
        """The rows the filters allow (kb.retrieve.allowed_rows) as a Milvus expression over document ids."""
        if allowed is None:
            return ""
        keep = np.zeros(len(self.doc_ids), dtype=bool)
        keep[self.doc_of_row[allowed]] = True
        allowed_docs = [d for d, k in zip(self.doc_ids, keep.tolist()) if k]
        excluded = [d for d, k in zip(self.doc_ids, keep.tolist()) if not k]
        if min(len(allowed_docs), len(excluded)) > MAX_LISTED:
            raise ConfigError(f"these filters keep {len(allowed_docs)} of {len(self.doc_ids)} documents; the milvus "
                              f"backend names at most {MAX_LISTED} kept or left out in one search: narrow them")
        return _doc_filter(allowed_docs, excluded)

    def _ranked(self, hits, allowed: np.ndarray | None, bm25: bool = False) -> Ranked:
        """Rows and scores of Milvus' hits, best first, without chunks this index does not hold as they
        are (their document changed or went since it was loaded) or the filters exclude."""
        rows, scores = [], []
        for h in hits:
            row = self.row_of.get(h["chunk_id"])
            if row is None or self.digests[row] != h["entity"]["content_hash"]:
                continue
            if allowed is None or allowed[row]:
                rows.append(row)
                # Milvus Lite reports a BM25 score as a negative distance, a server as a positive one; its
                # BM25 has the classic (k1 + 1) factor, Lucene's (the local one) not: divided out, one scale
                scores.append(abs(float(h["distance"])) / (K1 + 1) if bm25 else float(h["distance"]))
        return Ranked(np.array(rows, dtype=np.int64), np.array(scores, dtype=np.float32))


def _fingerprint(build: str, doc_id: str, entry: DocEntry) -> str:
    """Changes whenever anything sent to Milvus for this document's rows would: only such rows are
    re-sent. `build` names what is the same for every row: schema, embedder, analyzers, chunking."""
    h = hashlib.sha256()
    for part in (build, doc_id, entry.content_hash, str(entry.chunks)):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:32]


def _rows(writer, doc_ids: list[str], fingerprints: dict[str, str]):
    """The Milvus rows of these documents, BATCH at a time, read from the segments that hold them."""
    from kb.ondisk import read_segment

    by_segment: dict[str, list[str]] = {}
    for d in doc_ids:
        by_segment.setdefault(writer.documents[d].segment, []).append(d)
    batch: list[MilvusRow] = []
    for name, docs in by_segment.items():
        segment = read_segment(writer.folder / name)
        entries = [writer.documents[d] for d in docs]
        rows = np.concatenate([np.arange(e.row, e.row + e.chunks) for e in entries])
        words, grams = (segment.terms[a].take(rows).bags() for a in ("words", "chars"))
        for i, row in enumerate(rows.tolist()):
            chunk = segment.chunks[row]
            entry = writer.documents[chunk.doc_id]
            batch.append(MilvusRow(chunk.chunk_id, chunk.doc_id, entry.content_hash, fingerprints[chunk.doc_id],
                                   terms(words[i]), terms(grams[i]), np.asarray(segment.vectors[row])))
            if len(batch) == BATCH:
                _check_lengths(batch)
                yield batch
                batch = []
    if batch:
        _check_lengths(batch)
        yield batch


def _collection_for(index_dir: Path, uri: str) -> str:
    """The collection the index at `index_dir` used with this URI before, or a new name for that folder."""
    try:
        state = json.loads((index_dir / STATE_FILE).read_text(encoding="utf-8"))
        if state["uri"] == uri:
            return state["collection"]
    except (OSError, ValueError, KeyError):
        pass
    folder = re.sub(r"\W", "_", index_dir.name, flags=re.ASCII)[:40]
    return f"policykb_{folder}_{hashlib.sha256(str(index_dir).encode()).hexdigest()[:8]}"


def _entity(row: MilvusRow) -> dict:
    return {"chunk_id": row.chunk_id, "doc_id": row.doc_id, "content_hash": row.content_hash,
            "fingerprint": row.fingerprint, "words": row.words, "grams": row.grams,
            "dense": row.vector.astype(np.float32).tolist()}


def _check_lengths(rows: list[MilvusRow]) -> None:
    for r in rows:
        for name in ("chunk_id", "doc_id", "words", "grams"):
            if len(getattr(r, name).encode("utf-8")) > MAX_BYTES:
                raise ConfigError(f"chunk {r.chunk_id}: its {name} is longer than Milvus holds ({MAX_BYTES} bytes); "
                                  f"index with a smaller --chunk-max-chars")


def _held(client, collection: str) -> dict[str, tuple[set[str], list[str]]]:
    """doc id -> (the fingerprints of its rows, their chunk ids), of every row the collection holds."""
    held: dict[str, tuple[set[str], list[str]]] = {}
    # Milvus Lite has no server timestamps; the iterator warns that it uses the client's, which is right here
    quiet = logging.getLogger("pymilvus.client.iterator.query_iterator")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        it = client.query_iterator(collection, batch_size=1000, output_fields=["doc_id", "fingerprint"])
        while batch := it.next():
            for r in batch:
                fingerprints, ids = held.setdefault(r["doc_id"], (set(), []))
                fingerprints.add(r["fingerprint"])
                ids.append(r["chunk_id"])
        it.close()
    finally:
        quiet.setLevel(level)
    return held


def _ensure_collection(client, collection: str, dim: int, kind: str, hnsw_m: int, embedder: str,
                       fresh: bool) -> None:
    """Create the collection, or keep the one there when it was made for the same schema and model."""
    lite = client.get_server_version().startswith("milvus_lite")
    identity = f"{DESCRIPTION} v{SCHEMA_VERSION} {embedder} dim={dim}"
    if client.has_collection(collection):
        found = (client.describe_collection(collection).get("properties") or {}).get(IDENTITY, "")
        if not found.startswith(DESCRIPTION):
            raise ConfigError(f"Milvus collection {collection} exists and is not a PolicyKB index; "
                              f"choose another with --milvus-collection")
        if found == identity and not fresh:
            _ensure_dense_index(client, collection, kind, hnsw_m)
            client.load_collection(collection)
            return
        client.drop_collection(collection)
    params = client.prepare_index_params()
    # the local BM25's parameters (kb.store.faiss_bm25), not Milvus' default k1 of 1.2
    for name in ("words_bm25", "grams_bm25"):
        params.add_index(name, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={"bm25_k1": K1, "bm25_b": B})
    _add_dense_index(params, kind, hnsw_m)
    client.create_collection(collection, schema=_schema(dim, lite), index_params=params, consistency_level="Strong",
                             properties={IDENTITY: identity})


def _add_dense_index(params, kind: str, hnsw_m: int) -> None:
    if kind == "hnsw":
        params.add_index("dense", index_type="HNSW", metric_type="IP", params={"M": hnsw_m, "efConstruction": 80})
    else:
        params.add_index("dense", index_type="FLAT", metric_type="IP")


def _ensure_dense_index(client, collection: str, kind: str, hnsw_m: int) -> None:
    """Switch the vector index (exact up to flat_max_vectors, HNSW above) without re-sending the rows."""
    if client.describe_index(collection, "dense").get("index_type") == ("HNSW" if kind == "hnsw" else "FLAT"):
        return
    client.release_collection(collection)
    client.drop_index(collection, "dense")
    params = client.prepare_index_params()
    _add_dense_index(params, kind, hnsw_m)
    client.create_index(collection, params)


def _schema(dim: int, lite: bool):
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    s = MilvusClient.create_schema(auto_id=False, description=DESCRIPTION)
    s.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=MAX_BYTES)
    s.add_field("doc_id", DataType.VARCHAR, max_length=MAX_BYTES)
    s.add_field("content_hash", DataType.VARCHAR, max_length=128)
    s.add_field("fingerprint", DataType.VARCHAR, max_length=64)
    for name in ("words", "grams"):
        s.add_field(name, DataType.VARCHAR, max_length=MAX_BYTES, enable_analyzer=True,
                    analyzer_params=_terms_analyzer(lite))
    s.add_field("words_bm25", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("grams_bm25", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    s.add_function(Function(name="words_bm25", function_type=FunctionType.BM25, input_field_names=["words"],
                            output_field_names=["words_bm25"]))
    s.add_function(Function(name="grams_bm25", function_type=FunctionType.BM25, input_field_names=["grams"],
                            output_field_names=["grams_bm25"]))
    return s
