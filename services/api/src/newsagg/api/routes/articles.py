"""GET /v1/articles/{id}: one article's clean text and metadata; /similar: more like it;
/revisions: how its text changed since it was first crawled."""

from __future__ import annotations

import difflib
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from newsagg.api.deps import StoreDep
from newsagg.api.models import (
    ArticleResponse,
    LastChange,
    RevisionInfo,
    RevisionsResponse,
    SimilarResponse,
)
from newsagg.core.article import Article
from newsagg.core.ports import SearchStore
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/v1/articles", tags=["articles"])
MAX_SIMILAR = 50
MAX_DIFF_CHARS = 65_536
"""A diff is cut here: a rewritten long read stays one bounded answer."""
DIFF_CONTEXT = 1
"""Unchanged paragraphs shown around each change (a paragraph is long; one sets the scene)."""
ArticleId = Annotated[str, Path(description="The article id (from a search hit).")]


async def stored_article(store: SearchStore, article_id: str) -> Article:
    article = await run_in_threadpool(store.get, article_id)
    if article is None:
        raise HTTPException(404, f"no article with id {article_id!r}")
    return article


@router.get("/{article_id}", response_model=ArticleResponse, summary="Get one article")
async def get_article(store: StoreDep, article_id: ArticleId) -> ArticleResponse:
    article = await stored_article(store, article_id)
    return ArticleResponse.model_validate(article.model_dump())


@router.get(
    "/{article_id}/similar",
    response_model=SimilarResponse,
    summary="Articles about the same thing",
    responses={404: {"description": "No article with this id."}},
)
async def get_similar_articles(
    store: StoreDep,
    article_id: ArticleId,
    size: Annotated[int, Query(ge=1, le=MAX_SIMILAR, description="How many.")] = 10,
) -> SimilarResponse:
    await stored_article(store, article_id)
    hits = await run_in_threadpool(store.similar, article_id, size)
    return SimilarResponse(article_id=article_id, hits=hits)


@router.get(
    "/{article_id}/revisions",
    response_model=RevisionsResponse,
    summary="How an article changed",
    responses={404: {"description": "No article with this id."}},
)
async def get_article_revisions(store: StoreDep, article_id: ArticleId) -> RevisionsResponse:
    """The versions seen under this id and the diff of the last change. Served from the
    store alone: it keeps the previous text whole and a summary of each earlier version."""
    article = await stored_article(store, article_id)
    current = RevisionInfo(
        revision=article.revision,
        title=article.title,
        content_hash=article.content_hash,
        crawled_at=article.crawled_at,
        word_count=article.word_count,
    )
    return RevisionsResponse(
        id=article.id,
        revision=article.revision,
        updated_at=article.updated_at,
        revisions=[
            *(RevisionInfo.model_validate(s.model_dump()) for s in article.revisions),
            current,
        ],
        last_change=await run_in_threadpool(last_change, article),
    )


def last_change(article: Article) -> LastChange | None:
    """The previous version against this one; None for an article never changed."""
    before = article.previous
    if before is None:
        return None
    diff, truncated = text_diff(before.text, article.text, article.revision)
    changed = before.title != article.title
    return LastChange(
        from_revision=article.revision - 1,
        to_revision=article.revision,
        title_changed=changed,
        previous_title=before.title if changed else None,
        title=article.title,
        diff=diff,
        diff_truncated=truncated,
    )


def text_diff(before: str, after: str, revision: int) -> tuple[str, bool]:
    """A unified diff by paragraph (the text's lines), at most MAX_DIFF_CHARS, and whether
    it was cut (at a line's end, so what is shown still reads as a diff)."""
    lines = difflib.unified_diff(
        before.splitlines(),
        after.splitlines(),
        fromfile=f"revision {revision - 1}",
        tofile=f"revision {revision}",
        lineterm="",
        n=DIFF_CONTEXT,
    )
    kept: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > MAX_DIFF_CHARS:
            return "\n".join(kept) + "\n", True
        kept.append(line)
    return "\n".join(kept) + "\n" if kept else "", False
