"""Bytes of a saved or fetched page to text, when its charset label may be missing or lying.

Valid UTF-8 with non-ASCII bytes is almost never another encoding by chance, so it
wins over a label that says otherwise (servers default to ISO-8859-1 headers). A
label is only believed when the bytes decode under it; then the content is sniffed.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _codec(label: str | None) -> str | None:
    """A Python codec for a charset label; labels for Latin-1 mean windows-1252 (as browsers do)."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name


def declared_charsets(body: bytes, content_type: str | None = None) -> list[str]:
    """Codecs the page claims, header first, then <meta charset> / http-equiv in its head."""
    labels = []
    if content_type and (match := _HEADER_CHARSET.search(content_type)):
        labels.append(match.group(1))
    if match := _META_CHARSET.search(body[:8192]):
        labels.append(match.group(1).decode("ascii", "ignore"))
    return [codec for codec in map(_codec, labels) if codec]


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode page bytes to text; never raises, never returns mojibake when avoidable."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, "replace").lstrip("\ufeff")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for codec in declared_charsets(body, content_type):
        if codec.replace("_", "-") in ("utf-8", "utf8"):
            continue  # just failed: the label lies
        try:
            return body.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    return body.decode(sniff_charset(body), "replace")


def sniff_charset(body: bytes) -> str:
    """charset_normalizer's guess; among equally good guesses, windows-1252.

    Single-byte Latin encodings often decode a short text equally well (cp1250 and
    cp1252 differ in a few letters); the web's most common legacy encoding is the
    browsers' default too.
    """
    matches = list(from_bytes(body[:65536]))
    if not matches:
        return "cp1252"
    best = matches[0]
    for match in matches:
        tied = match.chaos <= best.chaos + 0.005 and match.coherence >= best.coherence - 0.01
        if tied and match.encoding == "cp1252":
            return "cp1252"
    return best.encoding
