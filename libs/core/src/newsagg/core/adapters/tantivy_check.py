"""Is this tantivy index whole? Checksums of its segment files, checked before use.

What tantivy 0.27's Python bindings do with damage (tried, see tests/unit/test_corruption.py):
a missing meta.json makes `Index(..., reuse=True)` create a new empty index over the old
segments, and garbage over a segment file opens, counts and searches without a word
until a query touches the bad bytes, then fails with a ValueError or a Rust panic. The
bindings expose no `validate_checksum`, but every file tantivy writes ends in a footer,
`<body><footer JSON: version, crc><u32 footer length><u32 magic 1337>`, whose crc is
the CRC-32 of the body: this module checks those.

Cost and limits: the first check reads every byte of every live segment file once
(zlib's CRC-32 runs at about 2 GB/s here); after that a file is read again only when
its size or modification time changes, so a reload costs a read of meta.json and a
stat per file. Damage that keeps a file's size and mtime (a bad disk sector under a
file already checked by this process) is found by the next process to open the index,
or by `newsagg check`. Files of a commit made between our check and tantivy's reload
are checked at the next reload.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path

from newsagg.core.ports import DataCorrupted

META = "meta.json"
FOOTER_MAGIC = 1337
FOOTER_MAX_LEN = 50_000
SEGMENT_PARTS = ("idx", "pos", "term", "store", "fast", "fieldnorm")
SEGMENT_FILE = re.compile(r"^[0-9a-f]{32}\.")
CHUNK = 1 << 20
META_RETRIES = 3
"""A merge may delete files between our read of meta.json and the stat: read it again."""
REMEDY = (
    "Stop the indexer and run `newsagg repair --index`: it moves the damaged index aside"
    " and re-indexes every article from the bus log (docs/runbook.md)"
)


class IndexCheck:
    """Checks one index directory; remembers the files it found whole."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._whole: dict[str, tuple[int, int]] = {}  # file name -> (size, mtime_ns)

    def exists(self) -> bool:
        """An index is here (meta.json); raises DataCorrupted if only its segments are."""
        if (self.path / META).exists():
            return True
        if not self.path.is_dir():
            return False
        leftovers = [p.name for p in self.path.iterdir() if SEGMENT_FILE.match(p.name)]
        if leftovers:
            raise DataCorrupted(
                self.path,
                f"meta.json is missing but {len(leftovers)} segment files remain"
                " (opening it would start a new empty index over them)",
                REMEDY,
            )
        return False

    def check(self) -> None:
        """Raise DataCorrupted unless meta.json and every file it names are whole."""
        for _ in range(META_RETRIES):
            files = self._live_files()
            vanished = [name for name in files if not (self.path / name).exists()]
            if not vanished:
                break
        else:
            raise DataCorrupted(
                self.path / vanished[0], "a segment file named by meta.json is missing", REMEDY
            )
        for name in files:
            file = self.path / name
            try:
                stat = file.stat()
                seen = (stat.st_size, stat.st_mtime_ns)
                if self._whole.get(name) != seen:
                    verify_footer(file)
                    self._whole[name] = seen
            except FileNotFoundError:
                continue  # merged away since the listing: the next check reads the new meta

    def _live_files(self) -> list[str]:
        """The files of the segments meta.json names (and their current delete files)."""
        meta_path = self.path / META
        try:
            meta = json.loads(meta_path.read_bytes())
            segments = meta["segments"]
            files = []
            for segment in segments:
                stem = str(segment["segment_id"]).replace("-", "")
                files.extend(f"{stem}.{part}" for part in SEGMENT_PARTS)
                if segment.get("deletes"):
                    files.append(f"{stem}.{int(segment['deletes']['opstamp'])}.del")
        except FileNotFoundError:
            raise DataCorrupted(meta_path, "meta.json is missing", REMEDY) from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataCorrupted(
                meta_path, f"meta.json is not a valid tantivy index description ({exc})", REMEDY
            ) from exc
        return files


def verify_footer(file: Path) -> None:
    """Raise DataCorrupted unless the file's body matches the CRC-32 in its footer."""
    size = file.stat().st_size
    with file.open("rb") as handle:
        if size < 8:
            raise DataCorrupted(file, f"it is {size} bytes, shorter than tantivy's footer", REMEDY)
        handle.seek(size - 8)
        footer_len, magic = struct.unpack("<II", handle.read(8))
        if magic != FOOTER_MAGIC or footer_len > min(FOOTER_MAX_LEN, size - 8):
            raise DataCorrupted(file, "it ends in no tantivy footer", REMEDY)
        body_len = size - 8 - footer_len
        handle.seek(body_len)
        try:
            expected = int(json.loads(handle.read(footer_len))["crc"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DataCorrupted(file, f"its footer is damaged ({exc})", REMEDY) from exc
        handle.seek(0)
        crc, left = 0, body_len
        while left:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                raise DataCorrupted(file, "it ended while being read", REMEDY)
            crc = zlib.crc32(chunk, crc)
            left -= len(chunk)
    if crc != expected:
        raise DataCorrupted(
            file, f"its CRC-32 is {crc:08x} but its footer says {expected:08x}", REMEDY
        )
