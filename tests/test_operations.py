"""Operating the finder: /metrics for Prometheus, and log lines that follow a request into the
tasks it starts."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pythonjsonlogger.json import JsonFormatter

from catalog.models import ImportRun
from core import metrics
from core.logs import RequestIdFilter
from finder.celery import app
from search.lifecycle import ensure_index
from tests.support import demo_rows, prometheus_samples, wait_for_import, write_catalog, zipped

TOKEN = "scraper-token-of-forty-characters-000000"


def _scrape(client: Client) -> dict[str, float]:
    """/metrics read as {sample with its labels: value}."""
    answer = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/plain")
    return prometheus_samples(answer.content.decode())


def _sample(samples: dict[str, float], name: str, **labels: str) -> float:
    """The value of ``name`` with (at least) ``labels``; 0 when the scrape has none."""
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    found = [value for sample, value in samples.items()
             if re.fullmatch(rf"{name}(\{{.*\}})?", sample) and all(label in sample for label in wanted)]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else 0.0


@pytest.mark.django_db(transaction=True)
def test_metrics_are_for_the_scraper_and_count_what_happens(indexed, settings) -> None:
    client = Client()
    settings.FINDER_METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404  # no token: no page
    settings.FINDER_METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 404

    before = _scrape(client)
    # Declared before anything happened: every kind of search, every task's failures, every queue.
    for kind in ("box", "similar_text", "similar_image", "photo", "photo_words"):
        assert f'finder_search_duration_seconds_count{{kind="{kind}"}}' in before
    assert 'finder_tasks_total{state="failed",task="catalog.tasks.import_upload"}' in before
    for queue in ("celery", "celery.imports"):
        assert f'finder_queue_tasks_waiting{{queue="{queue}"}}' in before
    assert _sample(before, "finder_imports_running", stage="reading") == 0
    assert _sample(before, "finder_index_documents", role="live") >= 50  # the indexed slice
    assert _sample(before, "finder_index_memory_bytes", role="live") > 0

    assert client.get("/search/", {"q": "black watch"}).status_code == 200
    failed = _sample(before, "finder_tasks_total", task="search.tasks.embed", state="failed")
    app.send_task("search.tasks.embed", ("no such kind", ["1"]), queue=django_settings.FINDER_IMPORT_QUEUE)
    deadline = time.monotonic() + 30
    while _sample(after := _scrape(client), "finder_tasks_total", task="search.tasks.embed",
                  state="failed") == failed:
        assert time.monotonic() < deadline, "the failed task was never counted"
        time.sleep(0.2)
    assert _sample(after, "finder_http_requests_total") > _sample(before, "finder_http_requests_total")
    assert _sample(after, "finder_http_responses_total", view="storefront:search", method="GET", status="200") >= 1
    assert (_sample(after, "finder_search_duration_seconds_count", kind="box")
            > _sample(before, "finder_search_duration_seconds_count", kind="box"))
    assert _sample(after, "finder_http_request_duration_seconds_bucket", view="storefront:search", method="GET",
                   le="+Inf") >= 1
    assert _sample(after, "finder_embeddings_total", kind="text") >= 50  # the slice, embedded by this worker
    # The dashboard and the alert rules in deploy/ read metrics the finder exports.
    deploy = Path(django_settings.BASE_DIR) / "deploy"
    rules = yaml.safe_load((deploy / "prometheus-alerts.yml").read_text())["groups"][0]["rules"]
    dashboard = json.loads((deploy / "grafana-dashboard.json").read_text())
    read = " ".join([rule["expr"] for rule in rules] + [target["expr"] for panel in dashboard["panels"]
                                                         for target in panel["targets"]])
    exported = {re.sub(r"_(bucket|count|sum)$", "", sample.split("{")[0]) for sample in after} | {
        sample.split("{")[0] for sample in after}
    assert set(re.findall(r"finder_[a-z_]+", read)) <= exported


def test_one_scrape_reads_every_process(tmp_path, monkeypatch) -> None:
    """In multiprocess mode a scrape sums what every process counted, those that ended included."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    count = ("from core import metrics; metrics.TASKS.labels('search.tasks.embed', 'failed').inc({n}); "
             "metrics.EMBEDDINGS.labels('image').inc(32)")
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", count.format(n=n)], check=True, cwd=django_settings.BASE_DIR,
                       env={"PROMETHEUS_MULTIPROC_DIR": str(folder), "PATH": "/usr/bin:/bin"})
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    text = metrics.exposition()[0].decode()
    assert 'finder_tasks_total{state="failed",task="search.tasks.embed"} 5.0' in text
    assert 'finder_embeddings_total{kind="image"} 64.0' in text


def _json_lines(stream: io.StringIO) -> logging.Handler:
    """A handler that writes as ``FINDER_LOG_FORMAT=json`` makes the console write, to ``stream``."""
    options = {key: value for key, value in django_settings.LOGGING["formatters"]["json"].items() if key != "()"}
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(**options))
    handler.addFilter(RequestIdFilter())
    return handler


@pytest.mark.django_db(transaction=True)
def test_json_logs_follow_a_request_into_the_tasks_it_starts(search_settings, celery_worker, staff,
                                                            tmp_path) -> None:
    search_settings.FINDER_UPLOAD_DIR = tmp_path / "uploads"
    ensure_index()
    stream = io.StringIO()
    handler, root = _json_lines(stream), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        folder = write_catalog(tmp_path / "catalog", demo_rows(3))
        uploaded = staff.post("/admin/catalog/importrun/add/",
                              {"archive": SimpleUploadedFile("shop.zip", zipped(folder), "application/zip")},
                              HTTP_X_REQUEST_ID="upload-7.a_b")
        assert uploaded.status_code == 302 and uploaded["X-Request-ID"] == "upload-7.a_b"
        wait_for_import(staff, ImportRun.objects.get())
        hostile = Client().get("/search/", {"q": "my secret words"}, HTTP_X_REQUEST_ID="two words\n{}")
        too_long = Client().get("/healthz", HTTP_X_REQUEST_ID="a" * 65)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert records and all({"time", "level", "logger", "message", "request_id"} <= set(r) for r in records)
    upload = [r for r in records if r["request_id"] == "upload-7.a_b"]
    line = next(r for r in upload if r["logger"] == "finder.requests")
    assert (line["path"], line["status"], line["method"]) == ("/admin/catalog/importrun/add/", 302, "POST")
    assert str(line["user_id"]) == staff.session["_auth_user_id"] and line["duration_ms"] > 0
    # The worker's lines for the import carry the upload's id.
    assert any(r["logger"] == "catalog.services" and "reading" in r["message"] for r in upload)
    # A client's id that is not short and plain is replaced; a search's words stay out of the logs.
    for answer in (hostile, too_long):
        assert re.fullmatch(r"[0-9a-f]{32}", answer["X-Request-ID"])
    search = next(r for r in records if r.get("path") == "/search/")
    assert search["request_id"] == hostile["X-Request-ID"] and "secret" not in json.dumps(search)
