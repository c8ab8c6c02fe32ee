from django.urls import path

from finder.middleware import limit_body
from search import api, views

photo_upload = limit_body("FINDER_MAX_PHOTO_BYTES")

app_name = "search"
urlpatterns = [
    path("products/<int:product_id>/similar/", views.similar, name="similar"),
    path("search/", views.search, name="search"),
    path("search/photo/", photo_upload(views.search_by_photo), name="search-photo"),
]

api_urlpatterns = [
    path("status", api.StatusView.as_view(), name="api-status"),
    path("products", api.ProductListView.as_view(), name="api-products"),
    path("products/<int:product_id>", api.ProductDetailView.as_view(), name="api-product"),
    path("products/<int:product_id>/similar", api.SimilarView.as_view(), name="api-similar"),
    path("search", api.SearchView.as_view(), name="api-search"),
    path("search/image", photo_upload(api.ImageSearchView.as_view()), name="api-search-image"),
]
