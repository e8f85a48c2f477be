"""The Spark engine gives the local engine's outputs, row for row (``timeline.spark``).

Every test is slow (Java and a Spark session): run with ``-m slow``. Without pyspark they are
skipped, unless ``CI`` is set: CI installs the ``spark`` extra and must run them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import timeline

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = [
    pytest.mark.slow,
    # pyspark's own import warns about pandas 3; the engine does not use pandas
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

HAVE_SPARK = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None
if not HAVE_SPARK and not os.environ.get("CI"):
    pytest.skip(
        "pyspark or Java is missing (pip install '.[spark]'); CI runs these tests",
        allow_module_level=True,
    )

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("clock_skew_forwarded_ids", "guardrail_update")
TABLES = {"events": "event_id", "rejects": ("source_file", "source_line"), "timeline": "event_id"}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local Spark session for every test (Java startup is slow)."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("ai-timeline-tests")
        .config("spark.sql.shuffle.partitions", "4")
        # Every test shares this JVM, thousands of stages in all: the status store keeps jobs,
        # stages, tasks and SQL plans of earlier builds on the heap beside the memory Spark
        # manages, and with 2 GB and the default retention the sixth build's aggregations found
        # no memory (AGGREGATE_OUT_OF_MEMORY, in one CI run of two). Keep little history and
        # give the driver room; a cluster's executors do not share the driver's heap.
        .config("spark.driver.memory", "4g")
        .config("spark.ui.retainedJobs", "50")
        .config("spark.ui.retainedStages", "50")
        .config("spark.ui.retainedTasks", "5000")
        .config("spark.sql.ui.retainedExecutions", "20")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _same(local: Path, spark_out: Path, manifest: bool = True) -> None:
    """The same files; every table row for row (sorted on its key), and the reports (without
    ``build.json`` when not ``manifest``: a build without correlation lists other outputs)
    equal."""

    def tables(folder: Path) -> list[str]:
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith("appendix"))

    assert tables(local) == tables(spark_out)
    for name, key in TABLES.items():
        if not (local / f"{name}.parquet").is_file():
            continue  # events.parquet: only a build without correlation writes it
        a = pl.read_parquet(local / f"{name}.parquet")
        b = pl.read_parquet(spark_out / f"{name}.parquet")
        assert a.schema == b.schema, name
        keys = list(key) if isinstance(key, tuple) else [key]
        assert a.sort(keys).equals(b.sort(keys)), name
        assert a.equals(b), f"{name}: same rows in another order"
    a_req = pl.read_parquet(local / "requests.parquet")
    b_req = pl.read_parquet(spark_out / "requests.parquet")
    assert a_req.equals(b_req)
    for name in ("correlation.json", "build.json") if manifest else ("correlation.json",):
        a_doc: dict[str, Any] = json.loads((local / name).read_text())
        b_doc: dict[str, Any] = json.loads((spark_out / name).read_text())
        a_doc.pop("command", None)
        b_doc.pop("command", None)
        assert a_doc == b_doc, name


def _nothing_cached(spark: SparkSession) -> None:
    """A build leaves no persisted data behind in the session (it would starve later jobs)."""
    persisted = spark.sparkContext._jsc.getPersistentRDDs()
    assert persisted.size() == 0, str(persisted)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_equals_local(spark: SparkSession, tmp_path: Path, scenario: str) -> None:
    from timeline.spark.engine import build_spark

    logs = ROOT / "fixtures" / "scenarios" / scenario / "logs"
    timeline.build([logs], tmp_path / "local", report=False)
    result = build_spark([logs], tmp_path / "spark", spark=spark)
    _nothing_cached(spark)
    _same(tmp_path / "local", tmp_path / "spark")
    assert (tmp_path / "spark" / "appendix.md").is_file()  # the report reads the tables unchanged
    assert result.totals == timeline.build([logs], tmp_path / "again", report=False).totals


def test_correlate_spark_recorrelates(spark: SparkSession, tmp_path: Path) -> None:
    from timeline.spark.engine import correlate_spark

    logs = ROOT / "fixtures" / "scenarios" / SCENARIOS[0] / "logs"
    timeline.build([logs], tmp_path / "local", report=False)
    # From a build without correlation (its events.parquet), and again from the timeline.
    timeline.build([logs], tmp_path / "spark", report=False, correlate=False)
    report = correlate_spark(tmp_path / "spark", spark=spark)
    assert report.requests == pl.read_parquet(tmp_path / "local" / "requests.parquet").height
    (tmp_path / "spark" / "events.parquet").unlink()
    _same(tmp_path / "local", tmp_path / "spark", manifest=False)
    correlate_spark(tmp_path / "spark", spark=spark)
    _same(tmp_path / "local", tmp_path / "spark", manifest=False)


def test_generated_incident_equals_local(spark: SparkSession, tmp_path: Path) -> None:
    """A generated corpus of about 300k events (50k requests, six layers' formats); its files
    (6 to 32 MB) are larger than the split size, so each is parsed in pieces by several tasks."""
    from benchmarks.corpus import generate
    from timeline.spark.engine import build_spark

    corpus = generate(tmp_path / "corpus", 50_000, jobs=2)
    timeline.build([corpus.logs], tmp_path / "local", report=False)
    build_spark([corpus.logs], tmp_path / "spark", spark=spark, report=False, split_bytes=4 << 20)
    _nothing_cached(spark)
    _same(tmp_path / "local", tmp_path / "spark")


def test_large_files_in_pieces_equal_local(spark: SparkSession, tmp_path: Path) -> None:
    """vLLM logs (a multi-line parser with its own ``cut``, untimed lines that inherit the time of
    an earlier line, startup lines whose model revision later events inherit) cut into pieces of
    20 kB: a plain file and a gzip one, each parsed by some twenty tasks, equal the local build."""
    import gzip

    from timeline.spark.engine import build_spark

    source = ROOT / "fixtures" / "scenarios" / "vllm_revision_one_host" / "logs" / "inference"
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "vllm-0.log").write_bytes(gzip.decompress((source / "vllm-0.log.gz").read_bytes()))
    shutil.copy(source / "vllm-1.log.gz", logs / "vllm-1.log.gz")
    timeline.build([logs], tmp_path / "local", report=False)
    build_spark([logs], tmp_path / "spark", spark=spark, report=False, split_bytes=20_000)
    _same(tmp_path / "local", tmp_path / "spark")
    events = pl.read_parquet(tmp_path / "spark" / "timeline.parquet")
    assert events.get_column("ts_inherited").sum() > 0  # untimed lines took an earlier time


# pyspark's pickler raises the recursion limit inside the test; hypothesis warns about it
@pytest.mark.filterwarnings("ignore:The recursion limit will not be reset")
@settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(parts=st.integers(min_value=1, max_value=7))
def test_any_partitioning_same_output(spark: SparkSession, tmp_path: Path, parts: int) -> None:
    """Files grouped into any number of parse tasks, correlation in any number of partitions."""
    from timeline.spark.engine import build_spark

    logs = ROOT / "fixtures" / "scenarios" / SCENARIOS[0] / "logs"
    local = tmp_path / "local"
    if not local.exists():
        timeline.build([logs], local, report=False)
    out = tmp_path / f"spark-{parts}"
    build_spark([logs], out, spark=spark, partitions=parts, report=False)
    _same(local, out)


def _local_names(folder: Path, local: Path) -> None:
    """The files of an output folder by ``file:`` URI named as the local engine names them (the
    qualified URI ``file:/x`` is the path ``/x``), in place; its build id (a hash over the
    names, among others) taken from the local build's ``build.json``."""
    for name in ("timeline", "rejects", "events"):
        path = folder / f"{name}.parquet"
        if path.is_file():
            frame = pl.read_parquet(path)
            frame.with_columns(pl.col("source_file").str.strip_prefix("file:")).write_parquet(path)
    for name in ("build.json", "correlation.json"):  # files, and clocks named by their file
        doc = folder / name
        doc.write_text(doc.read_text().replace('"file:/', '"/'))
    report = json.loads((folder / "correlation.json").read_text())  # clocks in order of name
    report["clock_corrections"].sort(key=lambda c: c["source"])
    (folder / "correlation.json").write_text(json.dumps(report))
    manifest = json.loads((folder / "build.json").read_text())
    manifest["build_id"] = json.loads((local / "build.json").read_text())["build_id"]
    (folder / "build.json").write_text(json.dumps(manifest))


def test_uris_in_and_out_equal_local(spark: SparkSession, tmp_path: Path) -> None:
    """Inputs and the output folder by URI (``file://``: Hadoop's local file system, reached by
    the calls that reach s3a://, hdfs:// and abfss://) give the local engine's outputs, files
    shown by URI; the folder holds nothing else; a second build replaces the first; a
    correlation by URI gives the same timeline again."""
    from timeline.spark.engine import build_spark, correlate_spark

    logs = tmp_path / "logs"  # outside the working directory: the local engine shows it whole
    shutil.copytree(ROOT / "fixtures" / "scenarios" / SCENARIOS[1] / "logs", logs)
    timeline.build([logs], tmp_path / "local", report=False)
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "events.parquet").write_bytes(b"an earlier --no-correlate build's table")
    uri = remote.as_uri()
    for _ in range(2):
        result = build_spark([logs.as_uri()], uri, spark=spark)
    _nothing_cached(spark)
    assert result.outputs["timeline"] == f"file:{remote}/timeline.parquet"
    names = sorted(p.name for p in remote.iterdir())
    assert [n for n in names if n.startswith(".")] == []  # no scratch, no staging left
    assert "events.parquet" not in names  # the earlier build's table is gone, as locally
    assert "appendix.md" in names
    files = pl.read_parquet(remote / "timeline.parquet").get_column("source_file").unique()
    assert all(f.startswith(f"file:{logs}/") for f in files)
    correlate_spark(uri, spark=spark)
    assert "appendix.md" not in {p.name for p in remote.iterdir()}  # it described the earlier run
    _local_names(remote, tmp_path / "local")
    _same(tmp_path / "local", remote)


def test_uri_glob_and_gzip_inputs_equal_local(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A glob URI over a plain and a gzip vLLM log, the output folder a plain path: the local
    engine's outputs, whole and in 20 kB pieces (their pieces and parts carried as cells)."""
    import gzip

    from timeline.spark import engine
    from timeline.spark.engine import build_spark

    source = ROOT / "fixtures" / "scenarios" / "vllm_revision_one_host" / "logs" / "inference"
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "vllm-0.log").write_bytes(gzip.decompress((source / "vllm-0.log.gz").read_bytes()))
    shutil.copy(source / "vllm-1.log.gz", logs / "vllm-1.log.gz")
    (logs / "_SUCCESS").write_bytes(b"")
    split: list[int] = []  # how many files were read into pieces, per call
    read = engine._remote_read

    def counted(session: SparkSession, jobs: list[Any], *rest: Any) -> Any:
        split.append(len(jobs))
        return read(session, jobs, *rest)

    monkeypatch.setattr(engine, "_remote_read", counted)
    timeline.build([logs / "vllm-0.log", logs / "vllm-1.log.gz"], tmp_path / "local", report=False)
    for split_bytes in (64 << 20, 20_000):
        out = tmp_path / f"spark-{split_bytes}"
        glob = f"{logs.as_uri()}/vllm-*"
        build_spark([glob], out, spark=spark, report=False, split_bytes=split_bytes)
        _nothing_cached(spark)
        _local_names(out, tmp_path / "local")
        _same(tmp_path / "local", out)
    assert split == [2]  # in 20 kB pieces, both files; whole, none


def test_uri_inputs_that_name_nothing_say_so(spark: SparkSession, tmp_path: Path) -> None:
    """A missing file, a glob matching nothing and an empty folder by URI: one line each, and
    nothing written."""
    from timeline.errors import InputError
    from timeline.spark.engine import build_spark

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "_SUCCESS").write_bytes(b"")  # a marker, not a log
    base = tmp_path.as_uri()
    cases = {
        f"{base}/missing.log": f"no such file or directory: '{base}/missing.log'; check the URI",
        f"{base}/*.nothing": f"no file matches '{base}/*.nothing'; check the pattern",
        f"{base}/empty": f"no files found in '{base}/empty'",
    }
    for uri, message in cases.items():
        with pytest.raises(InputError) as caught:
            build_spark([uri], tmp_path / "out", spark=spark)
        assert str(caught.value) == message
    assert not (tmp_path / "out").exists()
