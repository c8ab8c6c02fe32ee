"""Filters from request parameters, and in words: the storefront's side of
:class:`search.filters.Filters`.

``?gender=Men&gender=Unisex`` (values OR'ed), ``not_category=Footwear``, ``name=``,
``<range>_min``/``<range>_max`` for each numeric attribute shoppers filter by (``year``, ``price``:
the price a shopper pays), ``lat``/``lon``/``radius_km`` and ``min_score``. The attribute
registry (:mod:`catalog.attributes`) says which there are.
"""

from __future__ import annotations

import functools
from typing import Any

from rest_framework import serializers

from catalog.attributes import BY_PARAMETER, RANGES
from search.filters import Filters, name_words, unprintable

MAX_VALUE_LENGTH = 100
MAX_BOUND = 10**10
#: Values one request may name, over all its filter parameters: each page echoes them many times.
MAX_VALUES = 50


def printable(value: str) -> None:
    """A validator: refuse what :func:`search.filters.unprintable` finds."""
    if unprintable(value):
        raise serializers.ValidationError("holds a control character")


def _values() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=MAX_VALUE_LENGTH, trim_whitespace=True,
                                                             allow_blank=True, validators=[printable]),
                                 required=False, max_length=MAX_VALUES)


def _bound(attribute: Any) -> serializers.Field:
    """A range's bound: any number the attribute's could be compared with (a year of 9000 finds nothing)."""
    if attribute.decimals:
        return serializers.DecimalField(max_digits=14, decimal_places=attribute.decimals, min_value=0,
                                        max_value=MAX_BOUND, required=False, coerce_to_string=False)
    return serializers.IntegerField(min_value=0, max_value=MAX_BOUND, required=False)


class FilterParams(serializers.Serializer):
    """Validates filter query parameters (``?gender=Men&gender=Unisex&year_min=2012``...)."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False)
    lon = serializers.FloatField(min_value=-180, max_value=180, required=False)
    radius_km = serializers.FloatField(min_value=0.001, max_value=20_000, required=False, default=10.0)
    min_score = serializers.FloatField(min_value=-1, max_value=1, required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        """The declared fields, each range's bounds, and a list field for each tag attribute and
        its ``not_``: those the data names (building them all for every request cost more than
        the rest of the validation), or, with no data (the API schema), all."""
        fields = super().get_fields()
        data = getattr(self, "initial_data", None)
        for attribute in RANGES:
            for name in (f"{attribute.parameter}_min", f"{attribute.parameter}_max"):
                fields[name] = _bound(attribute)
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

        ranges = {}
        for attribute in RANGES:
            low, high = (data.get(f"{attribute.parameter}_{side}") for side in ("min", "max"))
            if low is not None or high is not None:
                ranges[attribute.parameter] = (None if low is None else float(low),
                                               None if high is None else float(high))
        return Filters(
            tags={p: values(p) for p in BY_PARAMETER if values(p)},
            excluded={p: values(f"not_{p}") for p in BY_PARAMETER if values(f"not_{p}")},
            ranges=ranges,
            name=name_words(data.get("name", "")),
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


def describe(filters: Filters) -> list[str]:
    """The filters in words, for the page that applies them."""
    parts = [f"{p.replace('_', ' ')}: {' or '.join(v)}" for p, v in filters.tags.items()]
    parts += [f"not {p.replace('_', ' ')}: {' or '.join(v)}" for p, v in filters.excluded.items()]
    if filters.name:
        parts.append(f"name has: {' '.join(filters.name)}")
    for parameter, (low, high) in filters.ranges.items():
        parts.append(f"{parameter.replace('_', ' ')} {'…' if low is None else f'{low:g}'} to "
                     f"{'…' if high is None else f'{high:g}'}")
    if filters.near is not None:
        parts.append(f"within {filters.radius_km:g} km of {filters.near[0]:.4f}, {filters.near[1]:.4f}")
    if filters.min_score is not None:
        parts.append(f"similarity ≥ {filters.min_score:g}")
    return parts
