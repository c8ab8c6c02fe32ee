"""Search analytics in the admin: the dashboard (searches a day, top, zero-result, relaxed and
seldom-clicked queries, the slowest searches, over a date range) and its CSV export. Seeing
them takes the permission ``analytics.view_search``."""

from __future__ import annotations

import csv
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from analytics import selectors
from analytics.charts import bar_chart
from analytics.forms import PeriodForm
from search.models import Rule

#: A spreadsheet runs a cell that begins with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _allowed(request: HttpRequest) -> None:
    if not request.user.has_perm("analytics.view_search"):
        raise PermissionDenied


def dashboard(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    form = PeriodForm(request.GET)
    period = form.period()
    if not request.GET:  # the form shows the period it defaulted to
        form = PeriodForm(initial={"start": period.first, "end": period.last})
    days = selectors.per_day(period)
    context = {
        **admin.site.each_context(request), "title": "Search analytics", "form": form, "period": period,
        "totals": selectors.totals(period), "chart": bar_chart(days),
        "top": selectors.top_queries(period), "zero": _with_synonym_links(selectors.zero_result_queries(period)),
        "relaxed": selectors.relaxed_queries(period), "low_ctr": _with_synonym_links(selectors.low_ctr_queries(period)),
        "slowest": selectors.slowest(period), "set_aside": selectors.set_aside(), "rules": _rules(period),
        "export": f"{reverse('analytics-export')}?{urlencode({'start': period.first, 'end': period.last})}",
    }
    return TemplateResponse(request, "admin/analytics.html", context)


def _rules(period: selectors.Period) -> list[dict[str, Any]]:
    """The rules that applied, with their hits, each with its words and a link to it (a rule
    deleted since shows its id)."""
    rows = selectors.rule_hits(period)
    rules = Rule.objects.in_bulk([row["rule_id"] for row in rows])
    return [{**row, "rule": rules.get(row["rule_id"]),
             "url": reverse("admin:search_rule_change", args=[row["rule_id"]]) if row["rule_id"] in rules else ""}
            for row in rows]


def _with_synonym_links(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each query with a link to a new synonym group that starts with it: the owner's way to
    make a query that finds nothing, or the wrong things, find what the shop calls it."""
    add = reverse("admin:search_synonymgroup_add")
    return [{**row, "synonyms_url": f"{add}?{urlencode({'terms': row['query'] + ', '})}"} for row in rows]


def export(request: HttpRequest) -> HttpResponse:
    """The period's queries as CSV, one row each, the most searched first."""
    _allowed(request)
    period = PeriodForm(request.GET).period()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="searches-{period.first}-to-{period.last}.csv"'
    writer = csv.writer(response)
    columns = ["query", "searches", "zero_result", "relaxed", "clicked", "ctr", "visited", "visit_rate", "mrr",
               "latency_ms"]
    writer.writerow(columns)
    for row in selectors.top_queries(period, limit=None):
        writer.writerow([neutralised(row[column]) for column in columns])
    return response


def neutralised(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, made plain text (a leading ')."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value

