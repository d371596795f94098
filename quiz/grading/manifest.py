"""The catalog's fingerprint: the sha256 of every exercise's tests and reference solution, as shipped.

The judge grades only against files whose hash is listed here (or a copy it verified earlier), so a
submission that rewrites ``exercises/<id>/test_<id>.py`` or ``solutions/<id>.py`` cannot change the
verdict of a later check. Catalog authors refresh it after changing those files:

    python -m quiz.grading.manifest

and tests/test_catalog.py fails until they do.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from quiz import paths

MANIFEST = Path(__file__).resolve().parent / "catalog.sha256"


def load() -> dict[str, str]:
    try:
        return json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def compute() -> dict[str, str]:
    """Hashes of the installed catalog's files, keyed by their path relative to the catalog's root."""
    entries = {}
    for folder in sorted(p for p in paths.exercises_dir().iterdir() if (p / "exercise.yaml").is_file()):
        tests = folder / f"test_{folder.name}.py"
        reference = paths.solution_file(folder.name)
        for key, file in ((f"exercises/{folder.name}/{tests.name}", tests),
                          (f"solutions/{folder.name}.py", reference)):
            if file.is_file():
                entries[key] = hashlib.sha256(file.read_bytes()).hexdigest()
    return entries


def main() -> int:
    MANIFEST.write_text(json.dumps(compute(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {MANIFEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
