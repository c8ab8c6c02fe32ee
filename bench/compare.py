"""Two finders side by side: ``python -m bench.compare --baseline <commit>`` (or ``--sentinel``).

This machine's noise is larger than the differences worth knowing (a run can be 10% off the
next), so one ``make bench`` against another's figures says little. Here both finders run at
once on the same machine and the same demo catalog, and their measurements take turns, round
after round: the similar page and API under wrk, uniform and Zipf-skewed popularity, beside the
floor view. Each round starts with every kept answer retired (the epoch moved), so each round
asks as the first did. The medians of the rounds are compared.

- ``--baseline <commit>``: this checkout against that commit's, checked out in a worktree.
- ``--sentinel``: this checkout with one embedded Redis (its CPU counted in) against the same
  behind Sentinel, a primary and two replicas with replica reads on (the Redis servers not
  counted: what the finder's own processes cost).
- ``--variant NAME=VALUE ...``: this checkout as it is against the same with those settings.

Writes ``compare.json`` and ``compare.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finder.settings.local")
django.setup()

from django.conf import settings  # noqa: E402

from bench import site, wrk  # noqa: E402

DEMO = Path(settings.BASE_DIR) / "data" / "demo-catalog"
#: What each measurement reads of wrk's figures.
FIGURES = ("requests_per_s", "cpu_ms_per_request", "p99_ms", "errors")


def measurements(running: site.RunningSite, ids: list[str], connections: int, seconds: float,
                 roles: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """One round on ``running``, every kept answer retired first: ``make bench``'s wrk section."""
    running.move_epoch()
    return wrk.similar_section(running, ids, connections, seconds, roles)


def medians(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    return {name: {figure: statistics.median(r[name][figure] for r in rounds) for figure in FIGURES}
            for name in rounds[0]}


def markdown(names: list[str], found: dict[str, dict[str, dict[str, float]]], rounds: int) -> str:
    first, second = names
    lines = [f"Medians of {rounds} rounds, taken in turns on this machine ({os.cpu_count()} cores).", "",
             f"| measurement | {first} req/s | {second} req/s | ratio | {first} CPU ms/req | {second} CPU ms/req "
             "| ratio | p99 ms | errors |", "|---|---|---|---|---|---|---|---|---|"]
    for name in found[first]:
        a, b = found[first][name], found[second][name]
        lines.append(f"| {name} | {a['requests_per_s']:.0f} | {b['requests_per_s']:.0f} | "
                     f"{b['requests_per_s'] / a['requests_per_s']:.2f} | {a['cpu_ms_per_request']:.2f} | "
                     f"{b['cpu_ms_per_request']:.2f} | {b['cpu_ms_per_request'] / a['cpu_ms_per_request']:.2f} | "
                     f"{a['p99_ms']:.0f} / {b['p99_ms']:.0f} | {a['errors']:.0f} / {b['errors']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--baseline", help="a commit to compare this checkout with")
    which.add_argument("--sentinel", action="store_true", help="one Redis against Sentinel with replica reads")
    which.add_argument("--variant", nargs="+", metavar="NAME=VALUE", help="this checkout against it with these")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-compare-", dir=settings.VAR_DIR))
    everything = ("web", "worker", "redis")
    configs: list[tuple[str, Path, dict[str, str], tuple[str, ...]]]
    if args.variant:
        variant = dict(setting.split("=", 1) for setting in args.variant)
        configs = [("as is", Path(settings.BASE_DIR), {}, everything),
                   (" ".join(args.variant), Path(settings.BASE_DIR), variant, everything)]
    elif args.sentinel:
        configs = [("one Redis", Path(settings.BASE_DIR), {}, everything),
                   ("Sentinel", Path(settings.BASE_DIR), {"FINDER_REDIS_REPLICAS": "2",
                                                          "FINDER_READ_FROM_REPLICAS": "1"}, ("web", "worker"))]
    else:
        checkout = scratch / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(checkout), args.baseline], check=True,
                       cwd=settings.BASE_DIR, capture_output=True)
        configs = [(args.baseline[:10], checkout, {}, everything), ("this", Path(settings.BASE_DIR), {}, everything)]
    ids = [row.split(",")[0] for row in (DEMO / "styles.csv").read_text().splitlines()[1:]]
    expected = sum(1 for _ in (DEMO / "images").glob("*.jpg"))
    try:
        with ExitStack() as stack:
            sites = []
            for number, (name, root, env, roles) in enumerate(configs):
                running = stack.enter_context(site.RunningSite(scratch / f"site-{number}", DEMO, env=env, root=root))
                running.wait_until_serving()
                running.wait_until_indexed(expected)
                sites.append((name, running, roles))
            rounds: dict[str, list[dict[str, dict[str, Any]]]] = {name: [] for name, _, _ in sites}
            for _ in range(args.rounds):
                for name, running, roles in sites:
                    rounds[name].append(measurements(running, ids, args.connections, args.seconds, roles))
        found = {name: medians(taken) for name, taken in rounds.items()}
        names = list(found)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "compare.json").write_text(json.dumps({"configs": names, "rounds": rounds, "medians": found},
                                                          indent=2))
        (args.out / "compare.md").write_text(markdown(names, found, args.rounds))
        print(markdown(names, found, args.rounds))
    finally:
        if args.baseline:
            subprocess.run(["git", "worktree", "remove", "--force", str(scratch / "baseline")], cwd=settings.BASE_DIR,
                           capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
