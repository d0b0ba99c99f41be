"""GET /v1/articles/{id}: one article's clean text and metadata; /similar: more like it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from newsagg.api.deps import StoreDep
from newsagg.api.models import ArticleResponse, SimilarResponse
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/v1/articles", tags=["articles"])
MAX_SIMILAR = 50
ArticleId = Annotated[str, Path(description="The article id (from a search hit).")]


@router.get("/{article_id}", response_model=ArticleResponse, summary="Get one article")
async def get_article(store: StoreDep, article_id: ArticleId) -> ArticleResponse:
    article = await run_in_threadpool(store.get, article_id)
    if article is None:
        raise HTTPException(404, f"no article with id {article_id!r}")
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
    if await run_in_threadpool(store.get, article_id) is None:
        raise HTTPException(404, f"no article with id {article_id!r}")
    hits = await run_in_threadpool(store.similar, article_id, size)
    return SimilarResponse(article_id=article_id, hits=hits)
