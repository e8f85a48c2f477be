"""Wall time of the Spark engine's stages, for profiling without the Spark UI.

Each stage logs ``<stage>: <seconds> s`` to the ``timeline.spark`` logger at INFO
(``python -m benchmarks.spark`` prints them). Spark is lazy: a stage's time is that of the
actions it runs (collects, counts, checkpoints, the streams to the driver), which may include
work planned by an earlier stage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

LOG: Final = logging.getLogger("timeline.spark")


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Log the wall time of the ``with`` block as stage ``name``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        LOG.info("%s: %.2f s", name, time.perf_counter() - started)
