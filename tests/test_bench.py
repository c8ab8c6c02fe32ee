"""The benchmark suite runs, on tiny inputs (``--quick``): its code keeps working. The real
measurements are ``make bench``'s, never the test suite's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

#: Each test here starts processes of its own (workers, servers, Redis, a browser) or runs for minutes.
pytestmark = [pytest.mark.slow, pytest.mark.own_database]


def test_the_benchmark_runs_on_tiny_inputs_and_writes_its_report(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
                            cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["quick"] is True
    embedding = results["embedding"]
    assert embedding["image_onnx_per_s"] > 0 and embedding["text_onnx_per_s"] > 0
    assert embedding["image_min_cosine"] > 0.99 and embedding["text_min_cosine"] > 0.98
    engines = {(row["data"], row["dims"], row["engine"].split(" ")[0]) for row in results["knn"]}
    assert {("synthetic", dims, engine) for dims in (384, 1280, 2048)
            for engine in ("numpy", "redis", "hnswlib")} <= engines
    assert all(0 <= row["recall_at_12"] <= 1 for row in results["knn"])
    imported = results["import"]
    assert 0 < imported["products"] <= imported["rows"] == 300 and imported["searchable_by_text_s"] > 0
    web = results["site"]
    assert web["products"] == 24 and web["fully_searchable_s"] > 0
    for name in ("similar", "search"):
        assert web[f"http_{name}"]["requests"] > 0 and web[f"http_{name}"]["errors"] == 0
    assert all(web["round_trips"][name]["round trips"] >= 1 for name in ("similar", "search", "api_k12", "api_k96"))
    for name in ("suggest", "keystroke"):
        assert web[f"http_{name}_alone"]["requests"] > 0 and web[f"http_{name}_alone"]["errors"] == 0
    assert web["redis_memory"]["bytes_per_product"] > 0
    for state in ("on", "off"):  # the search path with analytics on, and again off
        assert web["analytics"][state]["requests"] > 0 and web["analytics"][state]["errors"] == 0
    assert results["map"][0]["vectors"] == 500 and results["map"][0]["seconds"] > 0
    report = (tmp_path / "results.md").read_text()
    assert "QUICK RUN" in report and "| what | measured | goal | met |" in report
    assert "autocomplete" in report and "instant search" in report
