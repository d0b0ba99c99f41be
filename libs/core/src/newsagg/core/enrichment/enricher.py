"""The enrichment stage: near-duplicate group, story and people of each article.

Its only state is in the search store, as fields of the articles (docs/choices.md,
"Enrichment"): the LSH band keys find near-duplicate candidates (`near_duplicates`), a
search over a time window finds story candidates, and the group, original and story of
every enriched article are read back from them. So any number of indexers enrich alike,
and what one wrote the next batch sees.

Rules, in the order they apply to one article:
- Unchanged: the stored version has the same content hash and was enriched by this
  ENRICHMENT_VERSION: it keeps its group, original and story (a re-delivery or a replay).
- Near-duplicate: a candidate (sharing a band key, from the store or earlier in the batch)
  whose signature is similar enough (Jaccard, or containment for a trimmed copy) puts it in
  that candidate's group (`duplicate_group`, named by its first-indexed member) and story.
  Its `duplicate_of` is the group's original, the earliest published (ties: crawl); when
  it is earlier than that original it becomes the original, its story is found again from
  it (the group's own members left out of the candidates), and the group's other members
  are returned too, re-pointed at it and its story, to be written with the batch: so a
  text's story is its original's whichever copy was indexed first (outlets are crawled
  side by side). A copy similar to members of two groups (a trimmed copy each, of
  different halves) merges them.
- Story: the candidates are the store's articles in the window around its date that match
  any word of its title, lead and people; it joins the story of the most similar one
  (stories.similarities) above the threshold, else starts a story of its own id. A changed text
  (a new revision) keeps the story it had.
Only candidates enriched by this version count: after a method change, a replay of the
log re-enriches articles in their order and earlier results are not mixed in.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from newsagg.core.article import Article
from newsagg.core.enrichment.minhash import Fingerprint, fingerprint_words, normalise
from newsagg.core.enrichment.people import people_in
from newsagg.core.enrichment.stories import (
    StoryWords,
    TermVector,
    Vocabulary,
    lead_and_rest,
    similarities,
    story_words,
)
from newsagg.core.ports import SearchStore
from newsagg.core.search import SearchQuery
from newsagg.core.settings import Settings

ENRICHMENT_VERSION = 1
"""The method's version, stored in Article.enrichment: raise it when a change of the
method (not of a threshold) must re-enrich what is indexed (`newsagg replay`)."""

DAY = timedelta(days=1)
TERMS_CACHED = 20_000
TEXTS_KEPT = 2_048
"""Texts whose fingerprint, people and story words are kept (about 14 kB each, so ~30 MB;
a batch with more texts reads some of them twice)."""
LEADS_KEPT = 512
"""Normalised leads kept between an article's fingerprint and its story words (a batch's
worth; one not kept is normalised again)."""
VOCABULARY_TERMS = 500_000
"""Story terms numbered before the numbers and the cached vectors are dropped and begun
again (about 50 MB), so that months of news do not grow the indexer without bound."""


K = TypeVar("K")
V = TypeVar("V")
_TextKey = tuple[str, tuple[str, ...]]
"""Content hash and metadata names: what an article's people and story words come from."""
_SearchKey = tuple[str, tuple[str, ...], datetime]
"""A story search's key in a batch (`_search_key`)."""


@dataclass(frozen=True)
class EnrichmentSettings:
    """The window and the thresholds (the bench sweeps them; defaults from its
    cross-validation on the labelled set, bench/stories.py)."""

    story_window: timedelta = timedelta(hours=72)
    duplicate_jaccard: float = 0.4
    """Estimated Jaccard of the shingle sets at or above which two texts are copies."""
    duplicate_containment: float = 0.8
    """Estimated share of the smaller text found in the larger at or above which a
    trimmed copy is a copy, when it is at least `containment_min_ratio` of the larger."""
    containment_min_ratio: float = 0.3
    story_similarity: float = 0.15
    """Score at or above which an article joins a story: the cosine of title, lead and
    names, divided by 1 + story_decay * (days apart)."""
    story_decay: float = 0.5
    """How fast a candidate's cosine falls with the time between the two articles: by
    1 + story_decay per day apart (0: time does not count). Reports of one event come out
    within hours of each other; the same people's next event, which recalls the first in
    its words, days later."""
    duplicate_candidates: int = 30
    story_candidates: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> EnrichmentSettings:
        return cls(story_window=timedelta(hours=settings.story_window_hours))


@dataclass
class Enrichment:
    """One batch enriched: its articles in their order, the stored copies re-pointed at a
    new original (write them too), and what happened, for the metrics."""

    articles: list[Article]
    repointed: list[Article] = field(default_factory=list)
    duplicates: int = 0
    stories_joined: int = 0
    stories_started: int = 0
    unchanged: int = 0


class Enricher:
    def __init__(self, store: SearchStore, settings: EnrichmentSettings | None = None) -> None:
        self.store = store
        self.settings = settings or EnrichmentSettings()
        self._vocabulary = Vocabulary()
        self._vectors: OrderedDict[tuple[str, str], TermVector] = OrderedDict()
        self._texts = _Texts()

    def enrich(self, articles: Sequence[Article]) -> list[Article]:
        """The articles enriched, in their order, then the stored copies whose group or
        original changed: upsert the whole list."""
        result = self.enrich_batch(articles)
        return [*result.articles, *result.repointed]

    def enrich_batch(self, articles: Sequence[Article]) -> Enrichment:
        """Enrich a batch; the batch's earlier articles are candidates for its later ones.
        Raises the store's StoreUnavailable (the whole batch can be enriched again)."""
        batch = _Batch(self.store.get_many(list(dict.fromkeys(a.id for a in articles))))
        self._prefetch(articles, batch)
        self._search_stories(articles, batch)
        result = Enrichment(articles=[])
        for article in articles:
            before = batch.latest.get(article.id)
            if before is not None and before.crawled_at > article.crawled_at:
                enriched = article  # a stale version: the store keeps the newer one
            elif before is not None and _unchanged(before, article):
                enriched = article.model_copy(update=_carried(before))
                result.unchanged += 1
            else:
                enriched = self._enrich_one(article, before, batch, result)
            batch.add(enriched)
            result.articles.append(enriched)
        for index, article in enumerate(result.articles):
            moved = batch.repointed.pop(article.id, None)
            if moved is not None and moved.crawled_at == article.crawled_at:
                result.articles[index] = moved
        result.repointed = list(batch.repointed.values())
        return result

    def _prefetch(self, articles: Sequence[Article], batch: _Batch) -> None:
        """Fingerprint the articles that need it and read the near-duplicate candidates of
        the whole batch in one terms query (one round trip per batch, not per article)."""
        for article in articles:
            before = batch.latest.get(article.id)
            if before is None or not _unchanged(before, article):
                batch.prints[article.content_hash] = self._texts.fingerprint(article)
        bands = sorted({band for _, keys in batch.prints.values() for band in keys})
        if bands:
            size = self.settings.duplicate_candidates * len(batch.prints)
            batch.stored = self.store.near_duplicates(bands, size=size)
            batch.held.update((a.id, a) for a in batch.stored)

    def _search_stories(self, articles: Sequence[Article], batch: _Batch) -> None:
        """Ask the store for the story candidates of the batch's articles that will look for
        a story, in one call (one round trip, not one per article): those enriched anew
        that are similar enough to no stored candidate or earlier article of the batch
        sharing a band key with them. Those that are will most likely be copies, which join
        their original's story without a search. A wrong guess costs one search either way,
        never a different result: the store does not change during the batch, and a search
        not asked here is asked when the article needs it."""
        searches: dict[_SearchKey, SearchQuery] = {}
        earlier: dict[str, list[Fingerprint]] = {}
        for article in articles:
            before = batch.latest.get(article.id)
            if before is not None and (
                before.crawled_at > article.crawled_at
                or _unchanged(before, article)
                or (_current(before) and before.story_id is not None)
            ):
                continue
            print_, bands = batch.prints[article.content_hash]
            others = [other for band in bands for other in earlier.get(band, ())]
            others.extend(
                other
                for candidate in batch.stored_sharing(bands)
                if candidate.id != article.id and _current(candidate) and candidate.minhash
                if (other := Fingerprint.decode(candidate.minhash)) is not None
            )
            if not any(self._copies(print_, other) for other in others):
                search = self._story_search(article, batch)
                if search is not None:
                    searches[_search_key(article)] = search
            for band in bands:
                earlier.setdefault(band, []).append(print_)
        if searches:
            found = self.store.articles_matching(list(searches.values()))
            batch.searched.update(zip(searches, found, strict=True))

    def _enrich_one(
        self, article: Article, before: Article | None, batch: _Batch, result: Enrichment
    ) -> Article:
        people = self._texts.people(article)
        if article.content_hash not in batch.prints:
            batch.prints[article.content_hash] = self._texts.fingerprint(article)
        print_, bands = batch.prints[article.content_hash]
        update: dict[str, object] = {
            "enrichment": ENRICHMENT_VERSION,
            "minhash": print_.encode(),
            "lsh_bands": bands,
            "people": people,
            "duplicate_group": article.id,
            "duplicate_of": None,
            "story_id": None,
        }
        matches = self._copies_of(article, print_, bands, batch)
        if matches:
            result.duplicates += 1
            update.update(self._join(article, matches, batch))
        if update["story_id"] is None and before is not None and _current(before):
            update["story_id"] = before.story_id  # a new revision stays in its story
        if update["story_id"] is None:
            update["story_id"] = self._story(article, batch)
        if update["story_id"] == article.id:
            result.stories_started += 1
        else:
            result.stories_joined += 1
        return article.model_copy(update=update)

    def _copies_of(
        self, article: Article, print_: Fingerprint, bands: list[str], batch: _Batch
    ) -> list[Article]:
        """The verified near-duplicates among the candidates, the most similar first."""
        if not bands:
            return []
        candidates = {c.id: batch.latest.get(c.id, c) for c in batch.stored_sharing(bands)}
        for other_id in batch.sharing(bands):
            candidates[other_id] = batch.latest[other_id]
        ranked: list[tuple[tuple[float, float, str], Article]] = []
        for candidate in candidates.values():
            if candidate.id == article.id or not _current(candidate) or not candidate.minhash:
                continue
            other = Fingerprint.decode(candidate.minhash)
            if other is not None and self._copies(print_, other):
                rank = (print_.jaccard(other), print_.containment(other), candidate.id)
                ranked.append((rank, candidate))
        return [candidate for _, candidate in sorted(ranked, key=lambda r: r[0], reverse=True)]

    def _join(self, article: Article, matches: list[Article], batch: _Batch) -> dict[str, object]:
        """The article's group, original and story as a copy of `matches`.

        It joins the group of the most similar match, and its original's story. A match in
        another group (two copies that were not similar enough to each other, both similar
        to this one) merges that group into it. The original is the earliest of the groups'
        originals and the article; every member whose group, original or story changes is
        re-written with the batch."""
        best = matches[0]
        group = best.duplicate_group or best.id
        groups: dict[str, Article] = {}
        for match in matches:
            groups.setdefault(match.duplicate_group or match.id, match)
        originals = {
            name: self._article(member.duplicate_of or member.id, batch) or member
            for name, member in groups.items()
        }
        story = originals[group].story_id or best.story_id
        earliest = min([article, *originals.values()], key=_order)
        if earliest.id == article.id:
            story = self._story(article, batch, leaving_out=set(groups))
        for name, member in groups.items():
            if name != group or earliest.id != originals[name].id:
                story_of = originals[name].story_id or member.story_id
                members = self._members(name, story_of, batch) - {article.id}
                self._regroup(members, name, group, earliest.id, story, batch)
        return {
            "duplicate_group": group,
            "duplicate_of": None if earliest.id == article.id else earliest.id,
            "story_id": story,
        }

    def _copies(self, first: Fingerprint, second: Fingerprint) -> bool:
        settings = self.settings
        if first.jaccard(second) >= settings.duplicate_jaccard:
            return True
        return (
            first.size_ratio(second) >= settings.containment_min_ratio
            and first.containment(second) >= settings.duplicate_containment
        )

    def _article(self, article_id: str, batch: _Batch) -> Article | None:
        """An article of the batch or the store, newest known version."""
        if article_id not in batch.latest:
            batch.latest.update(batch.read(self.store, [article_id]))
        return batch.latest.get(article_id)

    def _members(self, group: str, story_id: str | None, batch: _Batch) -> set[str]:
        """The group's members: in the batch, and in the group's story (every copy joins its
        original's story)."""
        members = {a.id for a in batch.latest.values() if a.duplicate_group == group}
        if story_id is not None:
            members.update(i for i, name in batch.story(self.store, story_id) if name == group)
        missing = [member for member in members if member not in batch.latest]
        if missing:
            batch.latest.update(batch.read(self.store, missing))
        return members

    def _regroup(
        self,
        members: set[str],
        former: str,
        group: str,
        original: str,
        story: str | None,
        batch: _Batch,
    ) -> None:
        """Members of group `former` now belong to `group`, name `original` and are in
        `story`; the ones that change are kept for the write."""
        for member in members:
            held = batch.latest.get(member)
            if held is None or not _current(held) or held.duplicate_group != former:
                continue
            update: dict[str, object] = {
                "duplicate_group": group,
                "duplicate_of": None if member == original else original,
            }
            if story is not None:
                update["story_id"] = story
            moved = held.model_copy(update=update)
            if moved != held:
                batch.latest[member] = moved
                batch.repointed[member] = moved

    def _story_search(self, article: Article, batch: _Batch) -> SearchQuery | None:
        """The store search for its story candidates: the articles published in the window
        around its date that hold any word of its title, lead and people. Made once a batch
        (the batch's search and the story both need it), by `_search_key`."""
        key = _search_key(article)
        if key not in batch.searches:
            query = self._texts.words(article).query()
            moment, window = _moment(article), self.settings.story_window
            batch.searches[key] = (
                None
                if query is None
                else SearchQuery(
                    query=query,
                    published_from=moment - window,
                    published_to=moment + window,
                    size=self.settings.story_candidates,
                    facets=(),
                )
            )
        return batch.searches[key]

    def _story(self, article: Article, batch: _Batch, leaving_out: Collection[str] = ()) -> str:
        """The story of the most similar recent article above the threshold, else its own;
        the members of the `leaving_out` near-duplicate groups are no candidates."""
        moment = _moment(article)
        window = self.settings.story_window
        candidates: dict[str, Article] = {}
        words = self._texts.words(article)
        search = self._story_search(article, batch)
        if search is not None:
            key = _search_key(article)
            if key not in batch.searched:
                batch.searched[key] = self.store.articles_matching([search])[0]
            found = batch.searched[key]
            batch.held.update((other.id, other) for other in found)
            candidates = {
                other.id: batch.latest.get(other.id, other)
                for other in found
                if other.id != article.id
            }
        for other in batch.latest.values():
            if abs(_moment(other) - moment) <= window:
                candidates[other.id] = other
        scored = [
            c
            for c in candidates.values()
            if c.id != article.id
            and _current(c)
            and c.story_id is not None
            and c.duplicate_group not in leaving_out
        ]
        if not scored:
            return article.id
        if len(self._vocabulary) > VOCABULARY_TERMS:
            self._vocabulary = Vocabulary()
            self._vectors.clear()
        terms = self._terms(article, words)
        others = [self._terms(candidate) for candidate in scored]
        per_day = self.settings.story_decay / DAY.total_seconds()
        best, story = max(
            (
                score / (1 + per_day * abs(_moment(candidate) - moment).total_seconds()),
                candidate.story_id or candidate.id,
            )
            for score, candidate in zip(similarities(terms, others), scored, strict=True)
        )
        return story if best >= self.settings.story_similarity else article.id

    def _terms(self, article: Article, words: StoryWords | None = None) -> TermVector:
        """Its story terms (from `words` when the caller has them): recent articles are
        candidates again and again, so the terms of the last TERMS_CACHED versions are kept,
        and an article's own are kept for when it is a candidate (with its people then, the
        ones it was enriched with)."""
        key = (article.id, article.content_hash)
        terms = _kept(self._vectors, key)
        if terms is None:
            found = words or story_words(article.title, article.text, article.people)
            terms = _keep(self._vectors, key, self._vocabulary.vector(found.terms()), TERMS_CACHED)
        return terms


class _Batch:
    """What the batch knows: the stored versions of its ids and of the candidates it
    read, updated by each article it enriches, and the members it re-grouped or
    re-pointed.

    What it read from the store is kept for the rest of the batch (`held`, `read`,
    `story`): the store does not change while a batch is enriched (its writes come after),
    and the copies of one text in a batch read the same originals and re-group the same
    group again and again, one round trip each otherwise."""

    def __init__(self, stored: dict[str, Article]) -> None:
        self.latest: dict[str, Article] = dict(stored)
        self.repointed: dict[str, Article] = {}
        self.prints: dict[str, tuple[Fingerprint, list[str]]] = {}
        """Fingerprint and band keys by content hash."""
        self.stored: list[Article] = []
        """The store's near-duplicate candidates of the whole batch."""
        self.held: dict[str, Article] = {}
        """The store's versions read during the batch, by id: the near-duplicate candidates
        and what `read` fetched. An article enters `latest` (and so the story candidates)
        only when the enrichment asks for it, as it would reading the store then."""
        self._absent: set[str] = set()
        self._stories: dict[str, list[tuple[str, str | None]]] = {}
        self._bands: dict[str, set[str]] = {}
        self._stored_bands: dict[str, list[Article]] | None = None
        self._sharing: dict[tuple[str, ...], list[Article]] = {}
        self.searches: dict[_SearchKey, SearchQuery | None] = {}
        self.searched: dict[_SearchKey, list[Article]] = {}
        """The store's story candidates by search, asked for the whole batch at once."""

    def read(self, store: SearchStore, ids: Sequence[str]) -> dict[str, Article]:
        """The store's versions of these ids, each read from the store once a batch."""
        unread = [i for i in dict.fromkeys(ids) if i not in self.held and i not in self._absent]
        if unread:
            found = store.get_many(unread)
            self.held.update(found)
            self._absent.update(i for i in unread if i not in found)
        return {i: self.held[i] for i in ids if i in self.held}

    def story(self, store: SearchStore, story_id: str) -> list[tuple[str, str | None]]:
        """(id, stored duplicate_group) of the story's stored articles, read once a batch."""
        if story_id not in self._stories:
            self._stories[story_id] = [(h.id, h.duplicate_group) for h in store.story(story_id)]
        return self._stories[story_id]

    def add(self, article: Article) -> None:
        held = self.latest.get(article.id)
        if held is None or article.crawled_at >= held.crawled_at:
            self.latest[article.id] = article
            for band in article.lsh_bands:
                self._bands.setdefault(band, set()).add(article.id)

    def stored_sharing(self, bands: list[str]) -> list[Article]:
        """The store's candidates holding any of these band keys, gathered once a batch for
        a text's keys (its search and its verification both ask, and so do its copies)."""
        key = tuple(bands)
        if key in self._sharing:
            return self._sharing[key]
        if self._stored_bands is None:
            self._stored_bands = {}
            for article in self.stored:
                for band in article.lsh_bands:
                    self._stored_bands.setdefault(band, []).append(article)
        found: dict[str, Article] = {}
        for band in bands:
            for article in self._stored_bands.get(band, ()):
                found[article.id] = article
        self._sharing[key] = list(found.values())
        return self._sharing[key]

    def sharing(self, bands: list[str]) -> set[str]:
        """Ids of the batch's enriched articles holding any of these band keys."""
        found: set[str] = set()
        for band in bands:
            found |= self._bands.get(band, set())
        return found


def _search_key(article: Article) -> _SearchKey:
    """What its story search is made of: its text and title (the content hash), the
    metadata's names and its date. Hashed in place of the search itself, which hashes
    every word of its query."""
    return (article.content_hash, tuple(article.mentions), _moment(article))


class _Texts:
    """What the enrichment reads from an article's title, text and metadata names (its
    fingerprint, people and story words), kept for the last TEXTS_KEPT texts: the story
    search and the enrichment both need them, and the same text comes back in later
    batches (an agency text several outlets carry word for word, a re-delivery)."""

    def __init__(self) -> None:
        self._prints: OrderedDict[str, tuple[Fingerprint, list[str]]] = OrderedDict()
        self._people: OrderedDict[_TextKey, list[str]] = OrderedDict()
        self._words: OrderedDict[_TextKey, StoryWords] = OrderedDict()
        self._leads: OrderedDict[str, list[str]] = OrderedDict()
        """The normalised words of the leads of texts fingerprinted and not yet made into
        story words: the fingerprint normalises the whole text, lead first."""

    def fingerprint(self, article: Article) -> tuple[Fingerprint, list[str]]:
        """Fingerprint and band keys of its text, by content hash."""
        found = _kept(self._prints, article.content_hash)
        if found is None:
            lead, rest = (normalise(part) for part in lead_and_rest(article.text))
            _keep(self._leads, article.content_hash, lead, LEADS_KEPT)
            found = _keep(self._prints, article.content_hash, fingerprint_words(lead + rest))
        return found

    def people(self, article: Article) -> list[str]:
        """Its people, by what they are found from: title and text (the content hash) and
        the metadata's names."""
        key = (article.content_hash, tuple(article.mentions))
        found = _kept(self._people, key)
        if found is None:
            found = _keep(self._people, key, people_in(article))
        return list(found)

    def words(self, article: Article) -> StoryWords:
        """Its story words, by the same key as its people."""
        key = (article.content_hash, tuple(article.mentions))
        found = _kept(self._words, key)
        if found is None:
            lead = self._leads.pop(article.content_hash, None)
            words = story_words(article.title, article.text, self.people(article), lead)
            found = _keep(self._words, key, words)
        return found


def _kept(kept: OrderedDict[K, V], key: K) -> V | None:
    found = kept.get(key)
    if found is not None:
        kept.move_to_end(key)
    return found


def _keep(kept: OrderedDict[K, V], key: K, value: V, size: int = TEXTS_KEPT) -> V:
    kept[key] = value
    if len(kept) > size:
        kept.popitem(last=False)
    return value


def _current(article: Article) -> bool:
    """Enriched by this version of the method."""
    return article.enrichment == ENRICHMENT_VERSION


def _unchanged(before: Article, article: Article) -> bool:
    return _current(before) and before.content_hash == article.content_hash


def _carried(before: Article) -> dict[str, object]:
    return {
        "enrichment": before.enrichment,
        "minhash": before.minhash,
        "lsh_bands": before.lsh_bands,
        "duplicate_group": before.duplicate_group,
        "duplicate_of": before.duplicate_of,
        "story_id": before.story_id,
        "people": before.people,
    }


def _moment(article: Article) -> datetime:
    """When it happened: published, else crawled."""
    return article.published_at or article.crawled_at


def _order(article: Article) -> tuple[datetime, datetime, str]:
    """Which copy is the original: the earliest published, ties by crawl, then id."""
    return (_moment(article), article.crawled_at, article.id)


def mark_for_enrichment(store: SearchStore, page_size: int = 500) -> int:
    """Set every enriched article's `enrichment` to 0 (never enriched), for `newsagg replay
    --re-enrich`: the replayed messages are then enriched again, and until then no article
    is a candidate. Returns how many were marked."""
    marked = 0
    batch: list[Article] = []
    for article in store.scan(SearchQuery(), page_size=page_size):
        if article.enrichment:
            batch.append(article.model_copy(update={"enrichment": 0}))
        if len(batch) == page_size:
            marked += store.upsert(batch).written
            batch = []
    if batch:
        marked += store.upsert(batch).written
    return marked
