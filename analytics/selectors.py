"""What the dashboard, its CSV and the analytics API read: searches over a period of days,
counted by the database.

Click-through rate is the share of searches with at least one result opened; the mean
reciprocal rank averages, over searches, 1 / the position of the first result opened (0 for
a search with none): 1.0 when shoppers always open the first result."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    F,
    FloatField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from analytics.models import Click, Cursor, RuleHit, Search, Visit

#: A search that found nothing: no match within its filters, or none of its words in the
#: catalog (the nearest products by meaning were shown, but nothing it asked for).
FOUND_NOTHING = Q(results=0) | Q(matched=False)
#: Rows in each of the dashboard's tables.
TOP = 20
#: A query needs this many searches before its click-through rate says something.
LOW_CTR_MIN_SEARCHES = 3
LOW_CTR = 0.2


@dataclass(frozen=True)
class Period:
    """Whole days, both ends included, in the site's time zone."""

    first: datetime.date
    last: datetime.date

    @classmethod
    def last_days(cls, days: int) -> Period:
        today = timezone.localdate()
        return cls(today - datetime.timedelta(days=days - 1), today)

    def bounds(self) -> tuple[datetime.datetime, datetime.datetime]:
        """Its first moment, and the first moment after it."""
        start = timezone.make_aware(datetime.datetime.combine(self.first, datetime.time.min))
        return start, timezone.make_aware(datetime.datetime.combine(self.last + datetime.timedelta(days=1),
                                                                    datetime.time.min))

    @property
    def days(self) -> list[datetime.date]:
        return [self.first + datetime.timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def searches(period: Period) -> QuerySet[Search]:
    """The period's searches, each with ``first_click`` (the position of the first result
    opened, or None) and ``rr`` (its reciprocal rank, 0 without one)."""
    first_click = Click.objects.filter(search=OuterRef("pk")).order_by("position").values("position")[:1]
    start, end = period.bounds()
    return Search.objects.filter(at__gte=start, at__lt=end).annotate(
        first_click=Subquery(first_click),
        sent_on=Exists(Visit.objects.filter(search=OuterRef("pk"))),  # not "visited": that is a count's name
        rr=Case(When(first_click__isnull=False, then=Value(1.0) / Cast(F("first_click"), FloatField())),
                default=Value(0.0), output_field=FloatField()))


_MEASURES = {
    "searches": Count("id"),
    "zero_result": Count("id", filter=FOUND_NOTHING),
    "relaxed": Count("id", filter=Q(relaxed=True)),
    "clicked": Count("id", filter=Q(first_click__isnull=False)),
    "visited": Count("id", filter=Q(sent_on=True)),
    "reciprocal_ranks": Sum("rr"),
    "latency_ms": Avg("latency_ms"),
}


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    """``ctr``, ``visit_rate`` (searches that sent the shopper on to the shop) and ``mrr`` from a
    row's counts."""
    n = row["searches"] or 0
    return {**row, "ctr": round(row["clicked"] / n, 4) if n else 0.0,
            "visit_rate": round(row["visited"] / n, 4) if n else 0.0,
            "mrr": round((row["reciprocal_ranks"] or 0.0) / n, 4) if n else 0.0,
            "latency_ms": round(row["latency_ms"] or 0.0, 2)}


def totals(period: Period) -> dict[str, Any]:
    """The period's measures, and ``shop_visits``: every "View in shop" followed, from a search or not."""
    found = searches(period)
    start, end = period.bounds()
    return _rates({**found.aggregate(**_MEASURES), "visitors": found.values("visitor").distinct().count(),
                   "shop_visits": Visit.objects.filter(at__gte=start, at__lt=end).count()})


def set_aside() -> int:
    """Search events the roll-up skipped because the database would not take them (logged each)."""
    return Cursor.objects.aggregate(total=Sum("set_aside"))["total"] or 0


def per_day(period: Period) -> list[dict[str, Any]]:
    """Searches and zero-result searches on each day of the period, days without any too."""
    counted = {row["day"]: row for row in searches(period).annotate(day=TruncDate("at")).values("day").annotate(
        searches=Count("id"), zero_result=Count("id", filter=FOUND_NOTHING))}
    return [{"day": day, "searches": counted.get(day, {}).get("searches", 0),
             "zero_result": counted.get(day, {}).get("zero_result", 0)} for day in period.days]


def by_query(period: Period) -> QuerySet[Search, dict[str, Any]]:
    """One row per query (as normalised: case and spacing aside), with its counts and one of
    its wordings as typed (``query``)."""
    return searches(period).values("normalised").annotate(query=Max("query"), **_MEASURES)


def top_queries(period: Period, limit: int = TOP) -> list[dict[str, Any]]:
    return [_rates(row) for row in by_query(period).order_by("-searches", "normalised")[:limit]]


def zero_result_queries(period: Period, limit: int = TOP) -> list[dict[str, Any]]:
    return [_rates(row) for row in by_query(period).filter(FOUND_NOTHING).order_by("-searches", "normalised")[:limit]]


def relaxed_queries(period: Period, limit: int = TOP) -> list[dict[str, Any]]:
    return [_rates(row) for row in by_query(period).filter(relaxed=True).order_by("-searches", "normalised")[:limit]]


def low_ctr_queries(period: Period, limit: int = TOP) -> list[dict[str, Any]]:
    """Queries asked often whose results are seldom opened: shoppers did not find it there."""
    rows = [_rates(row) for row in by_query(period).exclude(FOUND_NOTHING).filter(
        searches__gte=LOW_CTR_MIN_SEARCHES).order_by("-searches", "normalised")]
    return [row for row in rows if row["ctr"] < LOW_CTR][:limit]


def slowest(period: Period, limit: int = 10) -> QuerySet[Search]:
    return searches(period).order_by("-latency_ms")[:limit]


def rule_hits(period: Period) -> list[dict[str, Any]]:
    """Each rule that applied in the period, with the searches it applied to (``hits``), the
    most first."""
    return list(RuleHit.objects.filter(search__in=searches(period)).values("rule_id")
                .annotate(hits=Count("id")).order_by("-hits", "rule_id"))
