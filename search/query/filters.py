"""Hybrid-query filters: typed, validated, and turned into redisvl filter expressions.

Every user-supplied value goes through a redisvl filter object, which escapes it, or is
reduced to plain word characters first: no input can change the query's structure.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from redisvl.query.filter import FilterExpression, Geo, GeoRadius, Num, Tag, Text
from redisvl.utils.token_escaper import TokenEscaper
from rest_framework import serializers

from catalog.attributes import BY_PARAMETER

WORD = re.compile(r"\w+")


class ExactTag(Tag):
    """redisvl's Tag, escaping every character but letters, digits and underscores: its own
    list leaves out some that the query parser treats specially (a backtick; found by the
    property tests)."""

    escaper = TokenEscaper(escape_chars_re=re.compile(r"[^\w]"))


MAX_VALUE_LENGTH = 100
#: Values one request may name, over all its filter parameters: each page echoes them many times.
MAX_VALUES = 50


def normal_form(query: str) -> str:
    """A query as one query, whatever its case and spacing ("Black  Watch" is "black watch"):
    for counting and suggesting searches."""
    return " ".join(query.lower().split())


def name_words(text: str) -> tuple[str, ...]:
    """The words of ``text`` as the index's tokenizer sees them (lower case, no punctuation)."""
    return tuple(dict.fromkeys(word.lower() for word in WORD.findall(text)))


@dataclass(frozen=True)
class Filters:
    """Pre-filters for a vector query. Values within one tag parameter are OR'ed; everything
    else is AND'ed."""

    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    excluded: dict[str, tuple[str, ...]] = field(default_factory=dict)
    name: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    near: tuple[float, float] | None = None  # (latitude, longitude)
    radius_km: float = 10.0
    min_score: float | None = None

    def expression(self) -> FilterExpression | None:
        parts: list[FilterExpression] = []
        for parameter, values in self.tags.items():
            parts.append(ExactTag(BY_PARAMETER[parameter].field) == list(values))
        for parameter, values in self.excluded.items():
            parts.append(ExactTag(BY_PARAMETER[parameter].field) != list(values))
        parts.extend(Text("name") == word for word in self.name)
        if self.year_min is not None:
            parts.append(Num("year") >= self.year_min)
        if self.year_max is not None:
            parts.append(Num("year") <= self.year_max)
        if self.near is not None:
            latitude, longitude = self.near
            parts.append(Geo("location") == GeoRadius(longitude, latitude, self.radius_km, "km"))
        expression = None
        for part in parts:
            expression = part if expression is None else expression & part
        return expression

    def describe(self) -> list[str]:
        """The filters in words, for the page that applies them."""
        parts = [f"{p.replace('_', ' ')}: {' or '.join(v)}" for p, v in self.tags.items()]
        parts += [f"not {p.replace('_', ' ')}: {' or '.join(v)}" for p, v in self.excluded.items()]
        if self.name:
            parts.append(f"name has: {' '.join(self.name)}")
        if self.year_min is not None or self.year_max is not None:
            parts.append(f"year {self.year_min or '…'} to {self.year_max or '…'}")
        if self.near is not None:
            parts.append(f"within {self.radius_km:g} km of {self.near[0]:.4f}, {self.near[1]:.4f}")
        if self.min_score is not None:
            parts.append(f"similarity ≥ {self.min_score:g}")
        return parts

    def pairs(self) -> list[tuple[str, Any]]:
        """These filters as (query parameter, value) pairs: for links and forms that keep them."""
        pairs: list[tuple[str, Any]] = [(p, v) for p, values in self.tags.items() for v in values]
        pairs += [(f"not_{p}", v) for p, values in self.excluded.items() for v in values]
        if self.name:
            pairs.append(("name", " ".join(self.name)))
        pairs += [(k, v) for k, v in (("year_min", self.year_min), ("year_max", self.year_max),
                                       ("min_score", self.min_score)) if v is not None]
        if self.near is not None:
            pairs += [("lat", self.near[0]), ("lon", self.near[1]), ("radius_km", self.radius_km)]
        return pairs

    def as_query(self) -> str:
        """These filters as a query string, for links that keep them."""
        return urlencode(self.pairs())


def unprintable(value: str) -> bool:
    """Whether ``value`` holds a control or other invisible character: no catalog value holds
    them, the query parser does not take them even escaped, and PostgreSQL cannot store a NUL."""
    return any(unicodedata.category(ch).startswith("C") for ch in value)


def printable(value: str) -> None:
    """A validator: refuse what :func:`unprintable` finds."""
    if unprintable(value):
        raise serializers.ValidationError("holds a control character")


def _values() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=MAX_VALUE_LENGTH, trim_whitespace=True,
                                                             allow_blank=True, validators=[printable]),
                                 required=False, max_length=MAX_VALUES)


class FilterParams(serializers.Serializer):
    """Validates filter query parameters (``?gender=Men&gender=Unisex&year_min=2012``...)."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    year_min = serializers.IntegerField(min_value=0, max_value=9999, required=False)
    year_max = serializers.IntegerField(min_value=0, max_value=9999, required=False)
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False)
    lon = serializers.FloatField(min_value=-180, max_value=180, required=False)
    radius_km = serializers.FloatField(min_value=0.001, max_value=20_000, required=False, default=10.0)
    min_score = serializers.FloatField(min_value=-1, max_value=1, required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        """The declared fields and a list field for each attribute and its ``not_``: those the
        data names (building them all for every request cost more than the rest of the
        validation), or, with no data (the API schema), all."""
        fields = super().get_fields()
        data = getattr(self, "initial_data", None)
        for parameter in BY_PARAMETER:
            for name in (parameter, f"not_{parameter}"):
                if data is None or name in data:
                    fields[name] = _values()
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("lat" in attrs) != ("lon" in attrs):
            raise serializers.ValidationError("lat and lon go together.")
        if sum(len(values) for values in attrs.values() if isinstance(values, list)) > MAX_VALUES:
            raise serializers.ValidationError(f"Name at most {MAX_VALUES} filter values in all.")
        return attrs

    def filters(self) -> Filters:
        data = self.validated_data

        def values(parameter: str) -> tuple[str, ...]:
            return tuple(dict.fromkeys(v for v in data.get(parameter, ()) if v))

        return Filters(
            tags={p: values(p) for p in BY_PARAMETER if values(p)},
            excluded={p: values(f"not_{p}") for p in BY_PARAMETER if values(f"not_{p}")},
            name=name_words(data.get("name", "")),
            year_min=data.get("year_min"),
            year_max=data.get("year_max"),
            near=(data["lat"], data["lon"]) if "lat" in data else None,
            radius_km=data["radius_km"],
            min_score=data.get("min_score"),
        )


def filters_from_query(params: Any) -> Filters:
    """Filters from query parameters; raises DRF's ValidationError, naming each bad parameter."""
    if not any(name in _parameter_names() for name in params):
        return Filters()  # most pages name no filter: no validation to run
    parsed = FilterParams(data=params)
    parsed.is_valid(raise_exception=True)
    return parsed.filters()


@functools.cache
def _parameter_names() -> frozenset[str]:
    return frozenset(FilterParams().fields)
