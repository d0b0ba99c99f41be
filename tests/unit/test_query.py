import pytest
from newsagg.core.query import (
    MAX_CLAUSES,
    MAX_QUERY_CHARS,
    And,
    Not,
    Or,
    Phrase,
    QuerySyntaxError,
    Term,
    parse_query,
)


def test_words_are_all_required():
    assert parse_query("Milind Soman cycling") == And(
        (Term("Milind"), Term("Soman"), Term("cycling"))
    )


def test_single_word_is_a_term():
    assert parse_query("  cycling ") == Term("cycling")


def test_quoted_phrase():
    assert parse_query('"roadside romance"') == Phrase(("roadside", "romance"))


def test_one_word_phrase_is_a_term():
    assert parse_query('"romance"') == Term("romance")


def test_exclusion():
    assert parse_query("Soman -marathon") == And((Term("Soman"), Not(Term("marathon"))))


def test_excluded_phrase():
    assert parse_query('Soman -"unity run"') == And((Term("Soman"), Not(Phrase(("unity", "run")))))


def test_hyphen_inside_a_word_is_not_exclusion():
    assert parse_query("Baroda-Delhi ride") == And((Term("Baroda-Delhi"), Term("ride")))


def test_or_binds_looser_than_and():
    assert parse_query("film premiere OR series") == Or(
        (And((Term("film"), Term("premiere"))), Term("series"))
    )


def test_lowercase_or_is_a_word():
    assert parse_query("this or that") == And((Term("this"), Term("or"), Term("that")))


def test_and_keyword_is_implicit():
    assert parse_query("a AND b") == And((Term("a"), Term("b")))


def test_parentheses_group():
    assert parse_query("(film OR series) Soman") == And(
        (Or((Term("film"), Term("series"))), Term("Soman"))
    )


def test_fields():
    assert parse_query('title:Soman author:"Priya Nair" source:marquee-daily') == And(
        (
            Term("Soman", "title"),
            Phrase(("Priya", "Nair"), "author"),
            Term("marquee-daily", "source"),
        )
    )


def test_unknown_field_prefix_is_a_plain_word():
    assert parse_query("time:10") == Term("time:10")


@pytest.mark.parametrize(
    ("query", "position", "reason"),
    [
        ('Soman "roadside romance', 6, "unbalanced quote"),
        ("(film OR series", 0, "unbalanced parenthesis"),
        ("film)", 4, "unbalanced parenthesis"),
        ("film OR", 5, "OR needs a term"),
        ("OR film", 0, "expected a word"),
        ('""', 0, "empty phrase"),
        ("   ", 0, "empty query"),
        ("title:", 0, "needs a word"),
        ("Soman -)", 6, "'-' must be followed"),
    ],
)
def test_errors_say_what_and_where(query, position, reason):
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert caught.value.position == position
    assert reason in caught.value.reason
    assert f"at character {position + 1}" in str(caught.value)


def test_lone_dash_is_a_word():
    assert parse_query("Soman - Konwar") == And((Term("Soman"), Term("-"), Term("Konwar")))


def test_too_long():
    with pytest.raises(QuerySyntaxError, match="too long"):
        parse_query("a" * (MAX_QUERY_CHARS + 1))


def test_too_many_clauses():
    with pytest.raises(QuerySyntaxError, match="too many terms"):
        parse_query(" ".join(["w"] * (MAX_CLAUSES + 1)))


def test_engine_syntax_is_just_words():
    # Lucene/tantivy operators mean nothing special to our grammar.
    assert parse_query("title:[a TO z] ^2~") == And(
        (Term("[a", "title"), Term("TO"), Term("z]"), Term("^2~"))
    )
