"""Charts drawn on the server as SVG (no script, no CDN): the dashboard's searches a day."""

from __future__ import annotations

from typing import Any

WIDTH, HEIGHT, AXIS = 720, 180, 24


def bar_chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars for each day's searches, with its zero-result searches in a second colour over
    them; coordinates in a ``WIDTH`` x ``HEIGHT`` view box."""
    top = max((day["searches"] for day in days), default=0) or 1
    slot = WIDTH / max(len(days), 1)
    plot = HEIGHT - AXIS
    bars = []
    for n, day in enumerate(days):
        height = plot * day["searches"] / top
        zero = plot * day["zero_result"] / top
        bars.append({"x": round(n * slot + slot * 0.1, 1), "width": round(slot * 0.8, 1),
                     "y": round(plot - height, 1), "height": round(height, 1),
                     "zero_y": round(plot - zero, 1), "zero_height": round(zero, 1),
                     "label": day["day"].strftime("%d %b"), "label_x": round(n * slot + slot / 2, 1),
                     "show_label": len(days) <= 14 or n % max(len(days) // 10, 1) == 0, **day})
    return {"width": WIDTH, "height": HEIGHT, "baseline": plot, "top": top, "bars": bars}
