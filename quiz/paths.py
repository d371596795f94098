"""Every location torchprep reads or writes, and the environment variable that redirects it.

Tests point these at temporary folders, so no test touches the user's real home.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
APP_NAME = "torchprep"


def _project_or_packaged(name: str) -> Path:
    # In a source checkout (editable install) exercises/ and solutions/ sit beside the package; in a wheel
    # they are shipped inside it as quiz/_data/<name>.
    beside = PACKAGE_DIR.parent / name
    if beside.is_dir():
        return beside
    return PACKAGE_DIR / "_data" / name


def builtin_bank_dir() -> Path:
    """The bank shipped with torchprep; TORCHPREP_BUILTIN_BANK swaps it (for tests and bank authors)."""
    override = os.environ.get("TORCHPREP_BUILTIN_BANK")
    return Path(override) if override else PACKAGE_DIR / "bank"


def exercises_dir() -> Path:
    override = os.environ.get("TORCHPREP_EXERCISES")
    return Path(override) if override else _project_or_packaged("exercises")


def solutions_dir() -> Path:
    override = os.environ.get("TORCHPREP_SOLUTIONS")
    return Path(override) if override else _project_or_packaged("solutions")


def solution_file(exercise_id: str) -> Path:
    return solutions_dir() / f"{exercise_id}.py"


def home(override: Path | str | None = None) -> Path:
    """Where progress lives: --home, else TORCHPREP_HOME, else the platform's app-data folder."""
    if override:
        return Path(override).expanduser()
    from_env = os.environ.get("TORCHPREP_HOME")
    if from_env:
        return Path(from_env).expanduser()
    import typer  # already loaded by the CLI; it knows each platform's convention

    return Path(typer.get_app_dir(APP_NAME))


def workspace(override: Path | str | None = None) -> Path:
    """Where the user's exercise files go: --workspace, else TORCHPREP_WORKSPACE, else ~/torchprep-workspace.

    Visible and in the home folder on purpose: it is the user's code, to open in their editor.
    """
    if override:
        return Path(override).expanduser()
    from_env = os.environ.get("TORCHPREP_WORKSPACE")
    if from_env:
        return Path(from_env).expanduser()
    return Path.home() / "torchprep-workspace"


def cache_dir(home_dir: Path) -> Path:
    """Derived data that can be thrown away at any time (the parsed question bank, the reference streams);
    TORCHPREP_CACHE moves it (the test suite shares one across tests)."""
    override = os.environ.get("TORCHPREP_CACHE")
    return Path(override) if override else home_dir / "cache"
