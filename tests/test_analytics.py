"""Search analytics: searches and clicks recorded on the real Redis stream as shoppers search,
rolled up into the database, and counted on the dashboard, its CSV and the staff API exactly
as a scripted session made them."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from analytics.models import Search
from analytics.services import roll_up, stream_key
from search.store.connection import get_client


@pytest.fixture
def fresh_stream(indexed) -> None:
    """The stream without the other tests' searches (it outlives their transactions)."""
    get_client().delete(stream_key())


def search(client: Client, query: str, **params: object) -> tuple[str, list[int], bool, str]:
    """Search like the search box; the search's id, its results' ids, whether it was relaxed,
    and the page."""
    page = client.get("/search/", {"q": query, **params})
    assert page.status_code == 200
    found = page.context["found"]
    return page.context["search_id"], [r["id"] for r in found.results], found.relaxed, page.content.decode()


def open_result(client: Client, search_id: str, ids: list[int], position: int) -> None:
    """Open a result the way a shopper does: by the link on its card."""
    assert client.get(f"/products/{ids[position - 1]}/", {"sid": search_id, "pos": position}).status_code == 200


@pytest.mark.django_db
def test_the_counts_match_a_scripted_session_exactly(fresh_stream, staff) -> None:
    first, second = Client(HTTP_USER_AGENT="first shopper"), Client(HTTP_USER_AGENT="second shopper")
    relaxed = []  # whether each search counted was relaxed, as its page said

    def counted(client: Client, query: str, **params: object) -> tuple[str, list[int]]:
        search_id, ids, was_relaxed, _ = search(client, query, **params)
        relaxed.append(was_relaxed)
        return search_id, ids

    watch, watch_ids, was_relaxed, page = search(first, "watch")
    relaxed.append(was_relaxed)
    assert f'href="/products/{watch_ids[0]}/?sid={watch}&amp;pos=1"' in page  # cards carry the search
    open_result(first, watch, watch_ids, 1)
    open_result(first, watch, watch_ids, 3)
    counted(first, "blue jeans")
    counted(first, "qwzxvj")  # none of its words in the catalog
    counted(first, "shirt", year_min=9000)  # nothing within the filter
    again, again_ids = counted(second, "watch")
    open_result(second, again, again_ids, 2)
    counted(first, "watch")  # the first shopper asks again: a search again
    for typed in ("sun", "sungl", "sunglasses"):  # instant search, as the shopper types
        typing, typing_ids, was_relaxed, _ = search(second, typed)
    relaxed.append(was_relaxed)
    open_result(second, typing, typing_ids, 1)
    app = Client(HTTP_USER_AGENT="an app").get("/api/v1/search", {"q": "sunglasses"})
    relaxed.append(app.json()["relaxed"])
    for sid, pos in (("not-a-search", "1"), (again, "²"), (again, "9" * 5000), (again, "0"), (again, "")):
        # A tampered link: the product page all the same, and no click.
        assert second.get(f"/products/{again_ids[0]}/", {"sid": sid, "pos": pos}).status_code == 200

    roll_up()
    # The session, by hand: 8 searches (the first shopper's "watch" twice, the second one's
    # typing once), "watch" opened at 1 (once, and again at 3) and 2, "sunglasses" at 1.
    assert Search.objects.count() == 8 and not Search.objects.filter(query__in=["sun", "sungl"]).exists()
    reciprocal = [1.0, 0.0, 0.0, 0.0, 0.5, 0.0, 1.0, 0.0]
    answer = staff.get("/api/v1/analytics", {"days": 1}).json()
    assert answer["searches"] == 8
    assert answer["zero_result"] == 2
    assert answer["relaxed"] == sum(relaxed) and len(relaxed) == 8
    assert answer["clicked"] == 3 and answer["ctr"] == pytest.approx(3 / 8, abs=1e-4)
    assert answer["mrr"] == pytest.approx(sum(reciprocal) / 8, abs=1e-4)
    top = answer["top_queries"][0]
    assert (top["query"], top["searches"], top["clicked"]) == ("watch", 3, 2)
    assert top["mrr"] == pytest.approx((1.0 + 0.0 + 0.5) / 3, abs=1e-4)
    # Rolled up once: running it again adds nothing, and the stream was trimmed.
    assert roll_up() == 0 and Search.objects.count() == 8 and get_client().xlen(stream_key()) == 0


@pytest.mark.django_db
def test_the_dashboard_links_zero_result_queries_to_the_synonym_editor_and_its_csv_is_safe(fresh_stream,
                                                                                          staff) -> None:
    shopper = Client()
    search(shopper, "=HYPERLINK(\"http://evil.example\")")
    search(shopper, "qwzxvj")
    roll_up()
    owner = staff
    page = owner.get("/admin/analytics/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "qwzxvj" in html
    assert "/admin/search/synonymgroup/add/?terms=qwzxvj%2C+" in html
    editor = owner.get("/admin/search/synonymgroup/add/", {"terms": "qwzxvj, "}).content.decode()
    assert "qwzxvj, " in editor  # the editor opens with the query in it
    exported = owner.get("/admin/analytics/export.csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert rows[0][:2] == ["query", "searches"]
    cells = {row[0] for row in rows[1:]}
    assert "'=HYPERLINK(\"http://evil.example\")" in cells and "qwzxvj" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


@pytest.mark.django_db
def test_analytics_are_for_the_shops_staff_only(fresh_stream, staff) -> None:
    assert Client().get("/api/v1/analytics").status_code == 401
    shopper = Client()
    shopper.force_login(get_user_model().objects.create_user("curious"))
    assert shopper.get("/api/v1/analytics").status_code == 403
    assert shopper.get("/admin/analytics/").status_code == 302  # to the admin's login
    clerk = Client()
    clerk.force_login(get_user_model().objects.create_user("clerk", is_staff=True))
    assert clerk.get("/api/v1/analytics").status_code == 403
    assert clerk.get("/admin/analytics/").status_code == 403
    assert staff.get("/api/v1/analytics", {"days": 0}).status_code == 400


@pytest.mark.django_db
def test_searches_go_on_unrecorded_with_analytics_off(fresh_stream, settings) -> None:
    settings.FINDER_ANALYTICS = False
    search_id, ids, *_ = search(Client(), "watch")
    assert search_id == "" and ids and get_client().xlen(stream_key()) == 0
