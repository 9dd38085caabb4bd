"""``python -m bench``: time a ``games`` query on the simulator, print a table, write JSON.

The model evaluation is separate (``python -m bench.eval``, ``make eval``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

from bench.query import SIZES, format_table, run_bench


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--latency-ms", type=float, default=50.0, help="added to every upstream request"
    )
    parser.add_argument(
        "--sizes",
        type=lambda s: tuple(int(n) for n in s.split(",")),
        default=SIZES,
        help="comma-separated slate sizes (default %(default)s)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=None, help="PREDICTION_CONCURRENCY (default: app's)"
    )
    parser.add_argument(
        "--baseline-max-n",
        type=int,
        default=None,
        help="run the sequential baseline only up to this N and extrapolate beyond it",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/bench.json"))
    args = parser.parse_args(argv)
    result = asyncio.run(
        run_bench(
            sizes=args.sizes,
            latency_s=args.latency_ms / 1000,
            concurrency=args.concurrency,
            baseline_max_n=args.baseline_max_n,
        )
    )
    print(format_table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
