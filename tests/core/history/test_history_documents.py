"""The documents and queries the MongoDB store sends, checked as plain data."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from app.core.history.documents import (
    SCHEMA_VERSION,
    day_of,
    list_filter,
    revised,
    run_changes,
    run_document,
    run_from_document,
    same_revision,
    scan_filter,
    search_filter,
    searchable,
    time_key,
    to_bson_time,
    usage_pipeline,
    words_of,
)
from app.core.history.mongo import redact, uri_secrets
from app.core.models import Run
from app.core.urls import display_host


def keys_of(value) -> set[str]:
    """Every key anywhere in a query, to check that no input became an operator."""
    if isinstance(value, dict):
        return set(value) | set().union(*(keys_of(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(keys_of(v) for v in value)) if value else set()
    return set()


@pytest.mark.parametrize("search", ["$ne", "$where", "{'$gt': ''}", "a.b", "(x", "title",
                                    "\\d+ .*", "Straße ÉTÉ"])
@pytest.mark.parametrize("text_index", [False, True])
def test_search_input_is_only_ever_an_escaped_value(search, text_index):
    query = search_filter(search, text_index=text_index)

    assert keys_of(query) <= {"words", "$all", "$text", "$search", "search_text", "$regex"}
    text = searchable(search, "")
    if "words" in query:  # the whole words, each a value of ``$all``
        assert set(query["words"]["$all"]) <= set(words_of(text))
    if "$text" in query:  # the same words as text for nx-27017's FTS5 index
        assert set(query["$text"]["$search"].split()) <= set(words_of(text))
    if "search_text" in query:
        pattern = query["search_text"]["$regex"]
        assert isinstance(pattern, str)  # never a compiled pattern
        assert re.search(pattern, text)  # finds the words themselves, folded
        # special characters are only themselves
        assert not re.search(pattern, searchable(re.sub(r"[^\w\s]", "x", search), ""))
    else:  # letters and digits only: the index decides alone
        assert not re.search(r"[^\w\s]", search)


def test_words_made_of_letters_and_digits_go_to_the_index_alone():
    assert search_filter("  storm   KEEPER ") == {"words": {"$all": ["keeper", "storm"]}}
    assert search_filter("storm KEEPER", text_index=True) == {
        "$text": {"$search": "keeper storm"}}
    assert search_filter("   ") == {} and search_filter(None) == {}


def test_other_characters_are_matched_literally_as_well_and_alone_they_scan():
    query = search_filter("door. storm")
    assert query["words"] == {"$all": ["door", "storm"]}
    pattern = query["search_text"]["$regex"]
    assert re.search(pattern, searchable("Storm", "a door."))
    assert not re.search(pattern, searchable("Storm", "a door"))
    assert not re.search(pattern, searchable("Storm", "a trapdoor."))  # starts a word
    assert re.search(pattern, searchable("Storm", "a door.way"))  # ends as it pleases
    assert set(search_filter(".*")) == {"search_text"}  # no letter or digit: a scan


def test_a_search_word_is_case_and_accent_folded_like_the_memory_store():
    assert search_filter("STRASSE Été") == {"words": {"$all": ["ete", "strasse"]}}
    assert words_of(searchable("Die Straße", "un été")) == ["die", "ete", "strasse", "un"]


def test_a_scan_reads_between_two_page_keys_with_the_whole_search_as_a_regex():
    query = scan_filter("door. storm", below="2", floor="1")
    assert query["page_key"] == {"$lt": "2", "$gte": "1"}
    assert re.search(query["search_text"]["$regex"], searchable("Storm", "a door."))
    assert not re.search(query["search_text"]["$regex"], searchable("Stormy", "a door."))
    assert scan_filter(None, below=None, floor=None) == {}


def test_page_keys_sort_like_creation_time_then_run_id_and_never_look_like_dates():
    at = datetime(2026, 11, 20, 9, 5, 7, 123456, tzinfo=timezone(timedelta(hours=2)))
    doc = run_document(Run(run_id="20261120-070507-abcdef", idea="i", created_at=at))

    assert doc["page_key"] == "20261120070507123 20261120-070507-abcdef"
    assert time_key(at) < time_key(at + timedelta(milliseconds=1))
    assert not re.match(r"\d{4}-\d{2}-\d{2}|\d{2}[-/]\d{2}[-/]\d{4}|\d{4}/", doc["page_key"])


def test_times_are_floored_to_the_millisecond_in_utc():
    t = datetime(2026, 11, 20, 11, 0, 0, 999999, tzinfo=timezone(timedelta(hours=1)))

    assert to_bson_time(t) == datetime(2026, 11, 20, 10, 0, 0, 999000, tzinfo=UTC)
    assert to_bson_time("2026-11-20T10:00:00.5Z") == datetime(2026, 11, 20, 10, 0, 0, 500000,
                                                              tzinfo=UTC)
    assert to_bson_time(datetime(2026, 1, 1)).tzinfo is UTC  # naive means UTC
    assert day_of("2026-11-21T01:00:00+03:00") == "2026-11-20"


def test_a_page_bound_is_floored_like_the_stored_times_and_the_query_stays_flat():
    bound = datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)

    assert list_filter(before=bound, search=None) == {"page_key": {"$lt": "20261120100000123"}}
    assert set(list_filter(before=bound, search="x y")) == {"page_key", "words"}
    assert set(list_filter(before=bound, search="x. y", text_index=True)) == {
        "page_key", "$text", "search_text"}


def test_a_run_document_has_real_dates_a_version_and_no_shots():
    at = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    run = Run(idea="idea", created_at=at, updated_at=at)

    doc = run_document(run)

    assert isinstance(doc["created_at"], datetime) and doc["finished_at"] is None
    assert (doc["schema"], doc["day"], doc["rev"]) == (SCHEMA_VERSION, "2026-11-20", 0)
    assert doc["_id"] == run.run_id  # writes address documents by _id
    assert doc["search_text"] == "\nidea"
    assert "shots" not in doc
    assert run_from_document({**doc, "_id": "x"}).model_dump() == run.model_dump()


def test_run_changes_make_dates_dates_and_refuse_operator_names():
    changes = run_changes({"finished_at": "2026-11-20T10:00:00+00:00", "title": "T",
                           "run_id": "other", "page_key": "0", "search_text": "x"})

    assert changes == {"finished_at": datetime(2026, 11, 20, 10, tzinfo=UTC), "title": "T",
                       "schema": SCHEMA_VERSION}
    for bad in ("$set", "a.b", ""):
        with pytest.raises(ValueError):
            run_changes({bad: 1})


def test_a_revision_guards_each_replace_and_derived_fields_follow_the_change():
    doc = run_document(Run(run_id="r", idea="An Idea", title="Old",
                           created_at=datetime(2026, 11, 20, 23, 30, tzinfo=UTC)))
    doc["_id"] = 1

    new = revised(doc, run_changes({"title": "New Title",
                                    "created_at": "2026-11-21T00:30:00+00:00"}))

    assert same_revision(doc) == {"_id": 1, "rev": 0}
    assert (new["_id"], new["rev"]) == (1, 1)
    assert (new["search_text"], new["day"]) == ("new title\nan idea", "2026-11-21")
    assert new["page_key"] == "20261121003000000 r"
    assert same_revision({"_id": "r"}) == {"_id": "r", "rev": {"$exists": False}}


def test_usage_is_grouped_without_facets_or_date_operators():
    pipeline = usage_pipeline(date(2026, 11, 1))
    text = json.dumps(pipeline)

    assert pipeline[0] == {"$match": {"day": {"$gte": "2026-11-01"}}}
    assert "$facet" not in text and "$date" not in text and "arrayFilters" not in text


@pytest.mark.parametrize(("uri", "hosts", "password"), [
    ("mongodb://storyreel:s3cr%40t-pw@db1.example.net:27017,db2.example.net/app?tls=true",
     "db1.example.net:27017,db2.example.net", "s3cr@t-pw"),
    ("mongodb+srv://storyreel:s3cr@t-pw@cluster0.abcde.mongodb.net/?retryWrites=true",
     "cluster0.abcde.mongodb.net", "s3cr@t-pw"),
    ("mongodb://storyreel:s3cr/t-pw@db1.example.net:27017/app",
     "db1.example.net:27017", "s3cr/t-pw"),
])
def test_connection_strings_show_hosts_and_hide_passwords(uri, hosts, password):
    message = redact(f"failed to connect with {uri} as {password}", uri_secrets(uri))

    assert display_host(uri) == hosts
    assert "s3cr" not in message


async def test_a_store_names_its_server_without_the_password():
    """The store's name goes into its error messages, which no URI redaction sees.
    (pymongo itself refuses a password with an unescaped ``/``; escaped, it is kept.)"""
    from app.core.history.mongo import MongoHistory

    store = MongoHistory.connect("mongodb://bob:s3cr%2Ft@127.0.0.1:9/app", "app", timeout_s=0.1)
    try:
        assert store.where == "MongoDB 127.0.0.1:9"
    finally:
        await store.aclose()
