from django.urls import path

from search import api, views

app_name = "search"
urlpatterns = [
    path("products/<int:product_id>/similar/", views.similar, name="similar"),
    path("search/", views.search, name="search"),
    path("search/photo/", views.search_by_photo, name="search-photo"),
]

api_urlpatterns = [
    path("status", api.StatusView.as_view(), name="api-status"),
    path("products", api.ProductListView.as_view(), name="api-products"),
    path("products/<int:product_id>", api.ProductDetailView.as_view(), name="api-product"),
    path("products/<int:product_id>/similar", api.SimilarView.as_view(), name="api-similar"),
    path("search", api.SearchView.as_view(), name="api-search"),
    path("search/image", api.ImageSearchView.as_view(), name="api-search-image"),
]
