"""The admin's extra pages of search: the Search index page and the catalog map, under ``/admin/``
(included by the project's URLs before the admin's own, whose catch-all would answer them)."""

from django.contrib import admin
from django.urls import path

from search.admin import catalog_map_data, catalog_map_view, search_index_view

urlpatterns = [
    path("search-index/", admin.site.admin_view(search_index_view), name="search-index"),
    path("catalog-map/", admin.site.admin_view(catalog_map_view), name="catalog-map"),
    path("catalog-map/<str:kind>.json", admin.site.admin_view(catalog_map_data), name="catalog-map-data"),
]
