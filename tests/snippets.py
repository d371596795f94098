"""The bank's snippet runner lives in the package (`torchprep bank verify` uses it too): quiz/snippets.py."""

from quiz.snippets import SNIPPET_TIMEOUT_S, Outcome, run_all  # noqa: F401 - re-exported for the tests
