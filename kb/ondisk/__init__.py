"""The on-disk index: immutable segments and a manifest naming the live ones, committed by one rename.

An index folder holds `manifest.json` and segment folders (`seg-000001/`: the records, chunks,
vectors and term counts of some documents). The manifest lists every document in corpus order with
the segment and rows that hold its current version; rows of a segment that no document points at
are dead (a changed or removed document's old version). A build writes only new files - a segment
for the changed documents, merged segments, the store's new files - then replaces the manifest
(write, fsync, rename), then deletes what the new manifest no longer names. A crash at any moment
therefore leaves the previous manifest with all its files, or the new one with all of its.

kb.ondisk.manifest: the manifest's typed records; kb.ondisk.segments: segment folders;
kb.ondisk.writer: a build's changes and the commit; kb.ondisk.loader: reading an index to search it.
"""

from kb.ondisk.loader import IndexContents, Layout, LoadedIndex, load_index, read_contents, read_layout
from kb.ondisk.manifest import (FORMAT_VERSION, MANIFEST, DenseState, DocEntry, EmbedderInfo, Manifest, ManifestError,
                               SegmentEntry, SourceEntry, built_settings, check_embedder, damaged, has_manifest,
                               read_manifest)
from kb.ondisk.segments import Segment, checksums, read_segment, sha256_of, verify, write_segment
from kb.ondisk.writer import IndexWriter, build_lock, plan_merges, remove_leftovers

__all__ = [
    "FORMAT_VERSION", "MANIFEST", "DenseState", "DocEntry", "EmbedderInfo", "IndexContents", "IndexWriter", "Layout",
    "LoadedIndex", "Manifest", "ManifestError", "Segment", "SegmentEntry", "SourceEntry", "build_lock",
    "built_settings", "check_embedder", "checksums", "damaged", "has_manifest", "load_index", "plan_merges",
    "read_contents", "read_layout", "read_manifest", "read_segment", "remove_leftovers", "sha256_of", "verify",
    "write_segment",
]
