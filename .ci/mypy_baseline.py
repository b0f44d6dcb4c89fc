"""Run mypy and fail only on a new problem: the baseline counts known errors per file and error code.

The count may only shrink. `--update` writes the current counts (after fixing errors, to lock the gain).
Counted per file and code rather than per line, so moving code or reformatting does not disturb it.
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
from pathlib import Path

BASELINE = Path(__file__).with_name("mypy-baseline.json")
ERROR = re.compile(r"^(?P<path>[^:]+):\d+: error: .*\[(?P<code>[a-z-]+)\]$")


def current() -> tuple[dict[str, int], str]:
    run = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary"], capture_output=True, text=True)
    counts: collections.Counter[str] = collections.Counter()
    for line in run.stdout.splitlines():
        match = ERROR.match(line)
        if match:
            counts[f"{match['path']} [{match['code']}]"] += 1
    if run.returncode not in (0, 1) or (run.returncode == 1 and not counts):
        sys.exit(f"mypy did not run:\n{run.stdout}{run.stderr}")
    return dict(sorted(counts.items())), run.stdout


def main() -> int:
    counts, output = current()
    if "--update" in sys.argv:
        BASELINE.write_text(json.dumps(counts, indent=1) + "\n")
        print(f"mypy baseline: {sum(counts.values())} known errors written to {BASELINE.name}")
        return 0
    known = json.loads(BASELINE.read_text())
    grown = {key: (known.get(key, 0), n) for key, n in counts.items() if n > known.get(key, 0)}
    if grown:
        print("mypy: new errors (known → now):")
        for key, (before, now) in grown.items():
            print(f"  {key}: {before} → {now}")
        paths = {key.split(" [")[0] for key in grown}
        print("\n".join(line for line in output.splitlines() if line.split(":")[0] in paths))
        return 1
    total, baseline_total = sum(counts.values()), sum(known.values())
    print(
        f"mypy: {total} known errors, none new (baseline {baseline_total}"
        + (", run `.ci/mypy_baseline.py --update` to lock the gain)" if total < baseline_total else ")")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
