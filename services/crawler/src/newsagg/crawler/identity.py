"""Whose address a page may claim: a canonical URL names the article only within the
page's own site.

An article's id is the hash of its canonical URL, so a page that could declare any
address as its canonical could take over another source's article (its id, title,
text and source). A stated canonical (rel=canonical, og:url) is trusted when it is on
the same site as the address the page was fetched from, or on a domain its source
declares as its own (`domains:` in sources.yaml, e.g. an AMP cache or a second brand);
otherwise the fetched address is the identity.

"The same site" is the registrable domain (www.bbc.co.uk and m.bbc.co.uk are one site,
foo.github.io and bar.github.io are two), from the Public Suffix List snapshot that
tldextract ships (never fetched at run time). A host with no public suffix (an IP
address, localhost, an intranet name) is its own site only on its own port.
"""

from __future__ import annotations

from collections.abc import Set
from functools import lru_cache
from urllib.parse import urlsplit

from newsagg.core.sources import Source
from tldextract import TLDExtract

_PSL = TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


@lru_cache(maxsize=4096)
def site_of(url: str) -> str:
    """The registrable domain of an http(s) URL; host:port where there is none."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    domain = _PSL.extract_str(host).top_domain_under_public_suffix
    if domain:
        return domain
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port or {'https': 443}.get(parts.scheme, 80)}"


def own_sites(source: Source) -> frozenset[str]:
    """The sites of the source's configured addresses and of the domains it declares."""
    declared = (f"https://{domain}/" for domain in source.domains)
    return frozenset(site_of(url) for url in (*source.entry_urls(), *declared))


def trusted_canonical(stated: str, fetched: str, own: Set[str] = frozenset()) -> str:
    """`stated` when the page may claim it, else the address it was fetched from."""
    claimed = site_of(stated)
    return stated if claimed == site_of(fetched) or claimed in own else fetched
