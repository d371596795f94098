"""Print one of the README Quickstart's two commands: `run` (the first) or `test` (the second)."""

import re
import sys
from pathlib import Path

readme = Path(__file__).resolve().parents[1].joinpath("README.md").read_text(encoding="utf-8")
quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
commands = re.findall(r"```(?:sh|bash|console)?\n(.+?)\n```", quickstart, flags=re.S)
if len(commands) != 2:
    sys.exit(f"the README's Quickstart must hold exactly two commands, found {len(commands)}")
print(commands[{"run": 0, "test": 1}[sys.argv[1]]].strip())
