"""The library, imported when a command runs rather than when the ``timeline`` command starts.

``timeline --version`` and ``--help`` must answer at once, so the command modules import neither
polars nor pyarrow nor rich: they name :data:`api` (the library API, ``timeline.pipeline.api``) and
the few rich modules through :class:`LazyModule`, which imports on the first attribute read. Type
checkers see the real modules (the ``TYPE_CHECKING`` branch).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any


class LazyModule:
    """A stand-in for a module that is imported on the first attribute read."""

    def __init__(self, name: str) -> None:
        self._name = name

    def load(self) -> ModuleType:
        """The real module (imported once; ``sys.modules`` caches it)."""
        return importlib.import_module(self._name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.load(), attr)


if TYPE_CHECKING:
    import rich.console as console
    import rich.progress as progress

    import timeline.pipeline.api as api
    import timeline.pipeline.demo as demo
    import timeline.spark.engine as spark_engine
else:
    api = LazyModule("timeline.pipeline.api")
    demo = LazyModule("timeline.pipeline.demo")
    # the Spark engine needs the [spark] extra: imported only when --engine spark is used
    spark_engine = LazyModule("timeline.spark.engine")
    console = LazyModule("rich.console")
    progress = LazyModule("rich.progress")

__all__ = ["LazyModule", "api", "console", "demo", "progress", "spark_engine"]
