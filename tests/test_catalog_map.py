"""The catalog as a map: each kind's vectors laid out by a worker's task, kept until the catalog
changes, and served to the admin's map page. On the indexed slice, with the real models."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from catalog.models import Product
from search.kinds import KINDS
from search.mapping import layout, refresh_maps
from search.models import CatalogMap
from search.store.connection import get_client
from search.store.versions import live_index


@pytest.mark.django_db
def test_the_maps_points_are_the_catalogs_and_are_redone_only_when_it_changes(indexed) -> None:
    assert refresh_maps() == [kind.name for kind in KINDS]
    live, client = live_index(), get_client()
    for kind in KINDS:
        points = CatalogMap.objects.get(kind=kind.name).points
        having = [pid for pid in Product.objects.order_by("id").values_list("id", flat=True)
                  if client.hexists(live.doc_key(pid), kind.field)]
        assert points["ids"] == having  # every product with that vector, and no other
        coordinates = np.array([points["x"], points["y"]])
        assert coordinates.min() >= 0 and coordinates.max() <= 1 and coordinates.std() > 0.1
    assert CatalogMap.objects.get(kind="text").method == "t-SNE"
    assert refresh_maps() == []  # nothing changed: nothing redone
    product = Product.objects.order_by("id").first()
    product.save()  # the catalog changed
    assert refresh_maps() == [kind.name for kind in KINDS]


def test_pca_lays_out_a_handful_and_both_methods_keep_neighbours_apart_from_strangers() -> None:
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((3, 64)) * 10
    vectors = np.concatenate([centre + rng.standard_normal((40, 64)) for centre in centres])
    for method in ("tsne", "pca"):
        points, placed = layout(vectors, method)
        assert placed == {"tsne": "t-SNE", "pca": "PCA"}[method]
        groups = [points[i * 40:(i + 1) * 40] for i in range(3)]
        spread = max(float(np.linalg.norm(g - g.mean(axis=0), axis=1).mean()) for g in groups)
        apart = min(float(np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)))
                    for n, a in enumerate(groups) for b in groups[n + 1:])
        assert apart > 2 * spread  # the three clusters stay three clusters
    assert layout(vectors[:2])[0].tolist() == [[0.5, 0.5], [0.5, 0.5]] and layout(vectors[:2])[1] == "PCA"


@pytest.mark.django_db
def test_the_map_page_and_its_data_are_for_staff_who_may_see_the_index(indexed, staff) -> None:
    refresh_maps()
    page = staff.get("/admin/catalog-map/")
    assert page.status_code == 200 and b'<canvas id="catalog-map"' in page.content
    data = staff.get("/admin/catalog-map/image.json").json()
    ids = CatalogMap.objects.get(kind="image").points["ids"]
    assert data["ids"] == ids and len(data["x"]) == len(ids)
    article_types = data["attributes"]["article_type"]
    names = dict(Product.objects.filter(id__in=ids).values_list("id", "article_type"))
    for pid, code in zip(ids, article_types["codes"], strict=True):
        value = article_types["values"][code]
        assert value == names[pid] or value == "other"
    assert staff.get("/admin/catalog-map/nothing.json").status_code == 404
    clerk = Client()
    clerk.force_login(get_user_model().objects.create_user("map-clerk", is_staff=True))
    assert clerk.get("/admin/catalog-map/").status_code == 403
    assert clerk.get("/admin/catalog-map/text.json").status_code == 403
