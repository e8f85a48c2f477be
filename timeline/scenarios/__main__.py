"""``python -m timeline.scenarios OUT [--requests N] [--scenario NAME] [--seed S]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from timeline.scenarios.generate import ALL_SCENARIOS, committed_requests, write_scenario


def main() -> None:
    """Write one or all scenarios under OUT/<scenario>/ (each at its committed size unless
    ``--requests`` is given)."""
    ap = argparse.ArgumentParser(prog="python -m timeline.scenarios", description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--requests", type=int, default=None)
    ap.add_argument("--scenario", choices=sorted(ALL_SCENARIOS), action="append")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    for name in args.scenario or sorted(ALL_SCENARIOS):
        count = args.requests or committed_requests(name)
        truth = write_scenario(name, args.out / name, count, args.seed)
        lines = sum(len(v) for v in truth["lines"].values())
        print(f"{args.out / name}: {len(truth['lines'])} files, {lines} request lines")


if __name__ == "__main__":
    main()
