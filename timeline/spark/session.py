"""The Spark session: taken the usual way (``--master``, ``spark-submit``, the environment)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from timeline.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER: Final = "local[*]"
APP_NAME: Final = "ai-timeline"
# Settings the engine relies on (UTC timestamps between Arrow and Spark); the rest is the user's.
REQUIRED_CONF: Final = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def _submitted_master() -> str | None:
    """The master ``PYSPARK_SUBMIT_ARGS`` or ``MASTER`` names, if any."""
    args = shlex.split(os.environ.get("PYSPARK_SUBMIT_ARGS", ""))
    for i, arg in enumerate(args):
        if arg == "--master" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--master="):
            return arg.split("=", 1)[1]
    return os.environ.get("MASTER") or None


def spark_session(master: str | None = None) -> SparkSession:
    """The active session, else a new one: ``master`` if given, else what ``spark-submit`` (or
    ``PYSPARK_SUBMIT_ARGS`` / ``MASTER``) set, else ``local[*]``."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "the spark engine needs pyspark and Java: pip install 'ai-timeline[spark]'"
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        if master is not None and active.sparkContext.master != master:
            raise ConfigError(
                f"a Spark session with master {active.sparkContext.master!r} is already running; "
                f"stop it or leave out --master {master}"
            )
        for key, value in REQUIRED_CONF.items():
            active.conf.set(key, value)
        return active
    builder = SparkSession.builder.appName(APP_NAME)
    under_submit = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit started this process
    chosen = master or (None if under_submit else _submitted_master() or DEFAULT_MASTER)
    if chosen is not None:
        builder = builder.master(chosen)
    for key, value in REQUIRED_CONF.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


SHUFFLE_PARTITIONS: Final = "spark.sql.shuffle.partitions"


@contextmanager
def shuffle_partitions(session: SparkSession, count: int) -> Iterator[None]:
    """``spark.sql.shuffle.partitions`` at ``count`` inside the block, unless the user set it
    (``--conf``, ``spark-defaults.conf``, the session's builder): Spark's default of 200 makes
    every join and aggregation of a small or local job 200 tasks."""
    if session.sparkContext.getConf().contains(SHUFFLE_PARTITIONS):
        yield
        return
    before = session.conf.get(SHUFFLE_PARTITIONS)
    session.conf.set(SHUFFLE_PARTITIONS, str(max(1, count)))
    try:
        yield
    finally:
        if before is None:
            session.conf.unset(SHUFFLE_PARTITIONS)
        else:
            session.conf.set(SHUFFLE_PARTITIONS, before)
