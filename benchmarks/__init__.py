"""Benchmarks for issues 7 and 15: a scalable corpus, hand-written DuckDB / polars baselines, a runner.

    python -m benchmarks.run --requests 1000000 [--gzip] [--keep]
    python -m benchmarks.run --issue15 [--rows 1m,modern,parsers,10m] [--spark]

See ``docs/performance.md`` for the figures and how to read them.
"""
