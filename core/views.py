"""The pages of the plumbing itself: the health check, the metrics and the benchmark's floor."""

import hmac

import redis
from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from core import metrics as finder_metrics
from core import redis_client
from core.workers import declare_task_metrics


def health(request: HttpRequest) -> JsonResponse:
    """``/healthz``: 200 when the database and Redis answer, else 503; for a container's health
    check, so it is plain HTTP and needs no login. Redis is pinged itself: the shared cache
    would answer as an empty one while it is down."""
    problems = []
    try:
        connection.ensure_connection()
    except Exception as exc:
        problems.append(f"database: {type(exc).__name__}")
    if not redis_client.configured():
        problems.append("redis: none is named (REDIS_URL or REDIS_SENTINELS)")
    else:
        try:
            redis_client.connect().ping()
        except redis.BusyLoadingError:
            problems.append("redis: loading its data")
        except redis.RedisError as exc:
            problems.append(f"redis: {type(exc).__name__}")
    return JsonResponse({"status": "unwell" if problems else "ok", "problems": problems},
                        status=503 if problems else 200)


def metrics(request: HttpRequest) -> HttpResponse:
    """``/metrics``: every web process's and worker's metrics in Prometheus's text format, for a
    scraper that sends ``Authorization: Bearer <FINDER_METRICS_TOKEN>``; a 404 to anyone else, and
    to everyone when no token is set (nothing tells a stranger that the page exists)."""
    token = settings.FINDER_METRICS_TOKEN
    if not token or not hmac.compare_digest(request.headers.get("Authorization", "").encode(),
                                            f"Bearer {token}".encode()):
        raise Http404
    declare_task_metrics()
    body, content_type = finder_metrics.exposition()
    return HttpResponse(body, content_type=content_type)


def floor(request: HttpRequest) -> HttpResponse:
    """``/floor/`` (with ``FINDER_FLOOR_VIEW`` only): a page that does nothing but know who asks,
    so what the server, the middleware and authentication cost alone. ``make bench`` measures the
    search pages against it."""
    return HttpResponse(b"signed in" if request.user.is_authenticated else b"anonymous", content_type="text/plain")
