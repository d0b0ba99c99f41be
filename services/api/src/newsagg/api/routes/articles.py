"""GET /v1/articles/{id}: one article's clean text and metadata."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from newsagg.api.deps import StoreDep
from newsagg.api.models import ArticleResponse
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/v1/articles", tags=["articles"])


@router.get("/{article_id}", response_model=ArticleResponse, summary="Get one article")
async def get_article(
    store: StoreDep,
    article_id: Annotated[str, Path(description="The article id (from a search hit).")],
) -> ArticleResponse:
    article = await run_in_threadpool(store.get, article_id)
    if article is None:
        raise HTTPException(404, f"no article with id {article_id!r}")
    return ArticleResponse.model_validate(article.model_dump())
