from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from finder.views import SignUpView
from search.urls import api_urlpatterns

urlpatterns = [
    path("admin/", include("search.admin")),
    path("admin/", admin.site.urls),
    path("accounts/signup/", SignUpView.as_view(), name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include(api_urlpatterns)),
    path("", include("catalog.urls")),
    path("", include("search.urls")),
    # Product photos. A production deployment serves MEDIA_ROOT from its web server or
    # object storage instead; this keeps `make run` one process short.
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
]
