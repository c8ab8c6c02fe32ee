"""Words that find photos: ``?by=image`` ranks products by what their photos show, whatever
their names say.

The query is read as the search box reads it (misspellings, synonyms, shades, needs), but what
it names is no filter here: it is what the photos should show. The classifiers of
:mod:`search.looks` give one direction in the image model's space for those values; the
products nearest it (within the shopper's own filters) are ranked again by how likely their
photos are to show every value read.
"""

from __future__ import annotations

import math

import numpy as np

from core import metrics
from core.errors import BadRequest
from search.filters import Filters, unprintable
from search.kinds import BY_NAME
from search.looks import current_classifiers
from search.query.search_box import BadQuery, SearchPage, read_query
from search.store import get_store
from search.store.connection import SearchUnavailable, get_reader, search_errors, text
from search.store.versions import live_index, product_of

IMAGE = BY_NAME["image"]
#: The products nearest the query's direction that are ranked by their photos' likelihood.
CANDIDATES = 50


class NothingToSee(BadRequest):
    """The query names nothing a photo shows."""


@metrics.SEARCH_SECONDS.labels("photo_words").time()
def search_by_photos(query: str, filters: Filters, k: int = 12, page: int = 1) -> SearchPage:
    """Page ``page`` of the products whose photos most likely show what ``query`` names (its
    product types, colours, categories, genders), within ``filters``. Each result's
    ``explanation`` holds the probability (``score``) and the values looked for (``looks``)."""
    if unprintable(query):
        raise BadQuery("The search holds a control character: type it again, in words.")
    classifiers = current_classifiers()
    if classifiers is None:
        raise SearchUnavailable("Searching photos by words starts once the catalog's photos are learnt: "
                                "try again in a minute.")
    client = get_reader()
    live = live_index()
    if not classifiers.reads(live.dims.get(IMAGE.field, 0)):
        raise SearchUnavailable("Photo search is being rebuilt for a new image model; try again soon.")
    with search_errors():
        reading = read_query(client, live, query).reading
        wanted = classifiers.known({attribute: (value, *reading.also.get(attribute, ()))
                                    for attribute, value in reading.values.items()})
        if not wanted:
            raise NothingToSee("These words name nothing a photo shows (a product type, a colour, a category): "
                               "try them as a text search.")
        depth = max(CANDIDATES, page * k)
        compiled = get_store().compile_filters(filters)
        within = str(compiled) if compiled is not None else "*"
        direction = classifiers.direction(wanted)
        hits = client.execute_command(
            "FT.SEARCH", live.name, f"({within})=>[KNN {depth} @{IMAGE.field} $vector AS distance]",
            "PARAMS", 2, "vector", live.vector_bytes(direction), "SORTBY", "distance",
            "RETURN", 1, IMAGE.field, "LIMIT", 0, depth, "DIALECT", 2)
        ids = [product_of(text(key)) for key in hits[1::2]]
        vectors = [live.vector(fields[1]) for fields in hits[2::2]]  # [field name, its bytes]
        if not ids:
            return SearchPage([], page, k, 0, reading.values, False, filters)
        scores = classifiers.log_probability(np.stack(vectors), wanted)
        order = sorted(range(len(ids)), key=lambda i: -scores[i])[(page - 1) * k:page * k]
        documents = get_store().documents([ids[i] for i in order])
    looks = {attribute: list(values) for attribute, values in wanted.items()}
    results = [{**document, "score": round(math.exp(scores[i]), 6),
                "explanation": {"vector": IMAGE.name, "looks": looks, "score": round(math.exp(scores[i]), 6)}}
               for i, document in zip(order, documents, strict=True) if document]
    return SearchPage(results, page, k, len(ids), reading.values, False, filters)
