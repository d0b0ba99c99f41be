"""People: metadata names first, names in the text only with evidence, one form each."""

from datetime import UTC, datetime

from newsagg.core.article import Article
from newsagg.core.enrichment import people_in
from newsagg.core.enrichment.people import find_people


def test_a_surname_after_the_full_name_is_the_same_person():
    text = (
        "Milind Soman finished the ride in Delhi on Sunday. Soman thanked the fans who "
        "waited at the gate."
    )
    assert find_people("A long ride ends", text) == ["Milind Soman"]


def test_metadata_names_come_first_and_a_one_word_mention_takes_the_full_form():
    text = "The series stars Milind Soman, who plays a detective, opposite Ishita Rao."
    assert find_people("Casting news", text, ["Ishita Rao", "Soman"]) == [
        "Ishita Rao",
        "Milind Soman",
    ]


def test_roles_speech_and_credits_are_evidence():
    text = (
        "Director Sharmila Rao thanked the crew. The score is composed by Hiroshi Tanaka. "
        '"It was cold," said Ishita Rao. Producer credits went to lyricist Asha Dalvi.'
    )
    assert find_people("Premiere night", text) == [
        "Sharmila Rao",
        "Hiroshi Tanaka",
        "Ishita Rao",
        "Asha Dalvi",
    ]


def test_places_events_and_titles_without_evidence_are_not_people():
    text = (
        "The Unity Run ended in New Delhi on Independence Day. Fans of Tin Roof Radio "
        "queued at the Mumbai Film Festival box office for The Long Watch."
    )
    assert find_people("Weekend round-up", text) == []


def test_leading_words_and_possessives_are_not_part_of_the_name():
    text = "Actor Naina Sehgal's new film opens Friday. Sehgal's fans are queuing already."
    assert find_people("Naina Sehgal's week", text) == ["Naina Sehgal"]


def test_people_in_reads_title_text_and_mentions_of_an_article():
    article = Article.create(
        url="https://wire.example/ride",
        source="wire",
        title="Ankita Konwar cheers on Milind Soman",
        text="Konwar filmed the ride from the car while Soman waved.",
        crawled_at=datetime(2026, 9, 14, tzinfo=UTC),
        mentions=["Milind Soman"],
    )
    assert people_in(article) == ["Milind Soman", "Ankita Konwar"]
