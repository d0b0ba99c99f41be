"""GET /v1/stories: the stories a query touches, each once, with who covered it and who was
first; GET /v1/stories/{id}: one story and its articles in the order they came out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from newsagg.api.deps import StoreDep
from newsagg.api.models import StoriesResponse, StoryResponse, json_response
from newsagg.api.routes.filters import FiltersDep
from newsagg.core.article import ARTICLE_ID_PATTERN
from newsagg.core.ports import SearchStore
from newsagg.core.search import SearchQuery, Sort
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/v1/stories", tags=["stories"])
MAX_STORIES = 50
STORY_ARTICLES = 500
"""Articles a story view lists; the summary's `size` still counts every one."""


@router.get(
    "",
    response_model=StoriesResponse,
    summary="Search stories",
    responses={400: {"description": "The query cannot be read."}},
)
async def search_stories(
    store: StoreDep,
    filters: FiltersDep,
    sort: Annotated[
        Sort,
        Query(
            description="relevance (default: the story's best-matching article) or date (the "
            "story's newest article first)."
        ),
    ] = Sort.RELEVANCE,
    size: Annotated[int, Query(ge=1, le=MAX_STORIES, description="Stories to return.")] = 10,
) -> Response:
    query = filters.query.model_copy(update={"sort": sort, "facets": ()})
    total, stories = await run_in_threadpool(store.stories, query, size)
    return json_response(StoriesResponse(query=filters.text, total=total, stories=stories))


@router.get(
    "/{story_id}",
    response_model=StoryResponse,
    summary="Get one story",
    responses={404: {"description": "No story with this id."}},
)
async def get_story(
    store: StoreDep,
    story_id: Annotated[
        str,
        Path(
            pattern=ARTICLE_ID_PATTERN,
            description="The story id (a hit's `story_id`, or a story's `id`).",
        ),
    ],
) -> Response:
    story = await run_in_threadpool(whole_story, store, story_id)
    if story is None:
        raise HTTPException(404, f"no story with id {story_id!r}")
    return json_response(story)


def whole_story(store: SearchStore, story_id: str) -> StoryResponse | None:
    """The summary over every article of the story (they all match its id), then the
    articles themselves; None for an id no article carries."""
    _, found = store.stories(SearchQuery(story_ids=(story_id,), size=0, facets=()), size=1)
    if not found:
        return None
    articles = store.story(story_id, STORY_ARTICLES)
    return StoryResponse(**found[0].model_dump(), articles=articles)
