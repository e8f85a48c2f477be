"""Benchmarks for issue 7: a scalable corpus, hand-written DuckDB / polars baselines, a runner.

    python -m benchmarks.run --requests 1000000 [--gzip] [--keep]

See ``docs/performance.md`` for the figures and how to read them.
"""
