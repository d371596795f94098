"""The child process of `torchprep fit`: FSRS's optimizer (it imports torch) on a review log read from stdin.

stdin: a JSON list of [card number, rating 1-4, ISO time]. stdout: {"parameters": [...]} or {"error": "..."}.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime


def main() -> int:
    try:
        rows = json.load(sys.stdin)
        import fsrs
        from fsrs.optimizer import Optimizer

        logs = [fsrs.ReviewLog(int(card), fsrs.Rating(int(rating)), datetime.fromisoformat(at), None)
                for card, rating, at in rows]
        parameters = Optimizer(logs).compute_optimal_parameters()
    except ImportError as error:
        json.dump({"error": f"FSRS's optimizer needs its extra (pip install 'fsrs[optimizer]'): {error}"},
                  sys.stdout)
        return 2
    except Exception as error:  # noqa: BLE001 - whatever the optimizer raises goes back to the user as words
        json.dump({"error": f"{type(error).__name__}: {error}"}, sys.stdout)
        return 1
    json.dump({"parameters": [float(value) for value in parameters]}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
