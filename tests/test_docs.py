"""The docs hold: every setting the code reads from the environment is in docs/settings.md, every
file a page of README.md or docs/ names (a recipe's file list, a module it points to) exists, and so
does every module, class, function or permission they name by its dotted name."""

from __future__ import annotations

import importlib
import re
import subprocess
from pathlib import Path
from types import ModuleType

from django.apps import apps
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
#: Where the code reads its settings from the environment.
READERS = (*sorted(str(path.relative_to(ROOT)) for path in (ROOT / "finder").rglob("*.py")), "core/metrics.py",
           "devserver/management/commands/runfinder.py")
#: The pages a reader follows.
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: What docs write in backquotes that looks like a path but is none of the repository's: what the
#: finder writes at run time, URLs, files inside installed packages.
NOT_OURS = ("var/", "/", "http", "test-artifacts", ".venv", "~", "tokenizer.json")
#: The packages whose dotted names (`search.kinds.KINDS`) the docs use.
PACKAGES = ("finder", "core", "devserver", "catalog", "search", "shoppers", "analytics", "storefront", "bench")


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


def test_every_dotted_name_the_docs_use_exists() -> None:
    """`search.query.recommend`, `core.workers.BoundedTask`: an importable module and the names
    inside it; `app_label.codename` and `app_label.Model` where no module has the name."""
    missing = []
    for page in PAGES:
        for name in re.findall(r"`([a-z_]+(?:\.\w+)+)[`(]", page.read_text()):
            if name.split(".")[0] in PACKAGES and not (_resolves(name) or _permission_or_model(name)):
                missing.append((page.name, name))
    assert missing == []


def _resolves(dotted: str) -> bool:
    """Whether the longest importable prefix of ``dotted`` is a module holding the rest."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: ModuleType | object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        except Exception:  # a module that needs its own environment (the production settings) exists
            return cut == len(parts)
        for name in parts[cut:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def _permission_or_model(dotted: str) -> bool:
    label, _, name = dotted.partition(".")
    try:
        config = apps.get_app_config(label)
    except LookupError:
        return False
    for model in config.get_models():
        meta = model._meta
        if name == model.__name__ or name in {f"{action}_{meta.model_name}" for action in meta.default_permissions} \
                | {codename for codename, _ in meta.permissions}:
            return True
    return False
