"""The `torchprep` entry point: a process-wide setting made before anything is imported, then the CLI."""

from __future__ import annotations


def main() -> None:
    import gc

    # Starting up (imports, the parsed bank) allocates some 100,000 objects and frees almost none; at Python's
    # default first-generation threshold (700) the collector runs about 90 times for nothing, 10-15 ms of a
    # quiz's first question. A larger first generation still collects cycles, only not during start-up.
    gc.set_threshold(100_000, 10, 10)
    from quiz.cli import main as run

    run()
