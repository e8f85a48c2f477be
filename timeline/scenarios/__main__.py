"""``python -m timeline.scenarios OUT [--requests N] [--scenario NAME] [--seed S]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from timeline.scenarios.generate import SCENARIOS, write_scenario


def main() -> None:
    """Write one or all scenarios under OUT/<scenario>/."""
    ap = argparse.ArgumentParser(prog="python -m timeline.scenarios", description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    for name in args.scenario or sorted(SCENARIOS):
        truth = write_scenario(name, args.out / name, args.requests, args.seed)
        lines = sum(len(v) for v in truth["lines"].values())
        print(f"{args.out / name}: {len(truth['lines'])} files, {lines} request lines")


if __name__ == "__main__":
    main()
