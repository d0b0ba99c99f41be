"""SearchQuery's provenance and quality filters take only values an article can carry."""

import pytest
from newsagg.core.article import DateSource
from newsagg.core.search import NO_DATE, SearchQuery, fingerprint
from pydantic import ValidationError


def test_every_date_source_and_none_are_filters():
    query = SearchQuery(date_sources=(*DateSource, NO_DATE), quality="low")
    assert set(query.date_sources) == {s.value for s in DateSource} | {"none"}


@pytest.mark.parametrize(
    ("filters", "named"),
    [({"date_sources": ("meta", "crawl")}, "unknown date source"), ({"quality": "bad"}, "quality")],
)
def test_an_unknown_value_is_refused_not_an_empty_result(filters, named):
    with pytest.raises(ValidationError, match=named):
        SearchQuery(**filters)


def test_a_cursor_is_bound_to_the_new_filters():
    assert fingerprint(SearchQuery(quality="low")) != fingerprint(SearchQuery(quality="ok"))
    assert fingerprint(SearchQuery(date_sources=("url",))) != fingerprint(SearchQuery())
