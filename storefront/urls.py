from csp.decorators import csp_update
from django.conf import settings
from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from catalog.attributes import PRODUCT_ID
from core.middleware import limit_body
from storefront import api, views


class ProductIdConverter:
    """A product id in a URL: the shop's own (a SKU; today's numeric ids are SKUs too)."""

    regex = PRODUCT_ID.pattern

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: object) -> str:
        return str(value)


register_converter(ProductIdConverter, "product")
photo_upload = limit_body("FINDER_MAX_PHOTO_BYTES")
bulk = limit_body("FINDER_MAX_BULK_BYTES")
#: Swagger UI styles its page inline: the docs page alone may.
inline_styles = csp_update({"style-src": ["'self'", "'unsafe-inline'"]})

app_name = "storefront"
urlpatterns = [
    path("", views.product_list, name="list"),
    path("products/<product:product_id>/", views.product_detail, name="detail"),
    path("products/<product:product_id>/similar/", views.similar, name="similar"),
    path("products/<product:product_id>/visit/", views.visit, name="visit"),
    path("search/", views.search, name="search"),
    path("favourites/", views.favourites, name="favourites"),
    path("favourites/<product:product_id>/", views.favourite, name="favourite"),
    path("not-for-me/<product:product_id>/", views.not_for_me, name="not-for-me"),
    path("for-you/", views.for_you, name="for-you"),
    path("search/photo/", photo_upload(views.search_by_photo), name="search-photo"),
    path("api/v1/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs", inline_styles(SpectacularSwaggerSplitView.as_view(url_name="storefront:api-schema")),
         name="api-docs"),
    path("api/v1/status", api.StatusView.as_view(), name="api-status"),
    path("api/v1/products", api.ProductListView.as_view(), name="api-products"),
    path("api/v1/products/bulk", bulk(api.BulkView.as_view()), name="api-products-bulk"),
    path("api/v1/products/<product:product_id>", api.ProductView.as_view(), name="api-product"),
    path("api/v1/products/<product:product_id>/similar", api.SimilarView.as_view(), name="api-similar"),
    path("api/v1/search", api.SearchView.as_view(), name="api-search"),
    path("api/v1/me/favourites", api.FavouritesView.as_view(), name="api-favourites"),
    path("api/v1/me/favourites/<product:product_id>", api.FavouriteView.as_view(), name="api-favourite"),
    path("api/v1/me/dismissed/<product:product_id>", api.DismissedView.as_view(), name="api-dismissed"),
    path("api/v1/me/recommendations", api.RecommendationsView.as_view(), name="api-recommendations"),
    path("api/v1/analytics", api.AnalyticsView.as_view(), name="api-analytics"),
    path("api/v1/rules", api.RulesView.as_view(), name="api-rules"),
    path("api/v1/rules/<int:pk>", api.RuleView.as_view(), name="api-rule"),
    path("api/v1/suggest", api.SuggestView.as_view(), name="api-suggest"),
    path("api/v1/search/image", photo_upload(api.ImageSearchView.as_view()), name="api-search-image"),
]
if settings.FINDER_SERVE_MEDIA:
    # Product photos, in development, and for a private catalog: behind its login, as its pages
    # are. A public shop's production deployment serves MEDIA_ROOT from its web server or object
    # storage instead (docker-compose.yml: the proxy).
    urlpatterns.append(re_path(r"^media/(?P<path>.*)$", views.photo))
