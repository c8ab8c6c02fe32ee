"""The docs hold: every setting the code reads from the environment is in docs/settings.md, and
every file a page of README.md or docs/ names (a recipe's file list, a module it points to) exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
#: Where the code reads its settings from the environment.
READERS = ("finder/settings.py", "finder/gunicorn.py", "finder/metrics.py")
#: The pages a reader follows.
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: What docs write in backquotes that looks like a path but is none of the repository's: what the
#: finder writes at run time, URLs, files inside installed packages.
NOT_OURS = ("var/", "/", "http", "test-artifacts", ".venv", "~", "tokenizer.json")


def _environment_names(text: str) -> set[str]:
    """The environment variables ``text`` reads: ``env("NAME")``, ``env.int("NAME")``,
    ``os.environ.get("NAME")``, ``os.environ["NAME"]``."""
    return set(re.findall(r'(?:\benv(?:\.\w+)?|environ\.get|environ)[(\[]\s*"([A-Z][A-Z0-9_]+)"', text))


def test_every_setting_read_from_the_environment_is_documented() -> None:
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "docs" / "settings.md").read_text()))
    read = set().union(*(_environment_names((ROOT / path).read_text()) for path in READERS))
    assert len(read) > 70  # the scan finds them (a change in how settings are read must not hide them)
    assert read - documented == set()


def test_every_file_the_docs_name_exists() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    names = {Path(path).name for path in tracked}
    missing = []
    for page in PAGES:
        for quoted in re.findall(r"`([^`\s]+)`", page.read_text()):
            path = quoted.split(":")[0].split("#")[0]
            if path.startswith(NOT_OURS) or "..." in path:
                continue
            if re.fullmatch(r"[\w.-]+(/[\w.-]+)+/?", path) and not re.fullmatch(r"\d+/[a-z]", path):
                # A path from the top (`search/query/search_box.py`), or the end of one (`query/search_box.py`).
                if not (ROOT / path).exists() and not any(name.endswith(f"/{path}") for name in tracked):
                    missing.append((page.name, quoted))
            elif re.fullmatch(r"[\w-]+\.(py|md|yml|yaml|json|txt|toml|in|tsv|html)", path) and path not in names:
                missing.append((page.name, quoted))
    assert missing == []
