"""One TOML validation for parser specs, ``timeline.toml`` and ``[correlation]``: every problem at
once, one message style, a "did you mean" for misspelt keys, and nothing but the documented error."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timeline.correlation.config import (
    CORRELATION,
    DEFAULT_RULES,
    CorrelationConfig,
    HeuristicRule,
    ManualOffset,
    parse_correlation,
)
from timeline.errors import ConfigError, SpecError
from timeline.parserkit.spec.model import SPEC, load_spec, parse_spec, spec_from_table
from timeline.pipeline.config import CONFIG, BuildConfig, SourceRule, config_from_table, load_config
from timeline.tomlmodel import (
    INVALID,
    Bool,
    Checked,
    Choice,
    Float,
    Int,
    Key,
    List,
    Map,
    Model,
    OneOf,
    PathKind,
    Problems,
    Scalar,
    Str,
    Table,
    Tables,
    describe,
    join,
    render,
)

# --- every problem at once, one exact text per file kind ---------------------------------------

SPEC_TEXT = """\
name = "My App"
layer = "gatway"
reader = "regex"
pattern = '^(?P<time>\\S+) (?P<msg>.*)$'
header = "yes"

[timestamp]
feild = "time"
formats = ["rfc3339", 5]

[fields]
duration_ms = { from = "took", scale = "1000" }
status_cod = "msg"

[severity.map]
E = "fatal"
"""


def test_spec_reports_every_problem_at_once(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text(SPEC_TEXT)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == (
        f"{path}: 12 problems:\n"
        "  - [name] 'My App' is not snake_case; use lowercase letters, digits and underscores, such as 'my_app_log'\n"
        "  - [layer] unknown value 'gatway'; did you mean 'gateway'? (allowed: gateway, policy, retrieval, inference, other)\n"
        "  - [description] is required; add a one-line description of the format\n"
        "  - [header] got the string 'yes'; use true or false\n"
        "  - [timestamp.feild] unknown key; did you mean 'field'? (allowed: field, formats, timezone, field_formats, required, date_from, date)\n"
        "  - [timestamp.formats[1]] timestamp format 'rfc3339' is neither a named format (iso8601, epoch_s, epoch_ms, epoch_us, epoch_ns) nor a strptime pattern; use a named format or a strptime pattern such as '%Y-%m-%d %H:%M:%S'\n"
        "  - [timestamp.formats[2]] got the number 5; use a named format or a strptime pattern\n"
        "  - [timestamp.field] is required; add the source field holding the time, or set required = false if the format has no time\n"
        "  - [fields.duration_ms.scale] got the string '1000'; use a number such as 1000.0\n"
        "  - [fields.status_cod] is not a canonical field; did you mean 'status_code'? (see docs/schema.md)\n"
        "  - [fields.duration_ms.from] source field 'took' is not produced by the reader; available: msg, time\n"
        "  - [severity.map.E] unknown value 'fatal'; did you mean 'FATAL'? (allowed: TRACE, DEBUG, INFO, WARN, ERROR, FATAL)"
    )
    assert len(info.value.problems) == 12


CONFIG_TEXT = """\
spec = ["my_app.toml"]

[defaults]
timezone = "Mars/Base"
year = 1800

[[sources]]
parser = 7

[[sources]]
match = "gateway/*.log"
yaer = 2025
"""


def test_config_reports_every_problem_at_once(tmp_path: Path) -> None:
    path = tmp_path / "timeline.toml"
    path.write_text(CONFIG_TEXT)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: 6 problems:\n"
        "  - [spec] unknown key; did you mean 'specs'? (allowed: defaults, sources, specs, correlation)\n"
        "  - [defaults.timezone] unknown time zone 'Mars/Base'; use an IANA name such as 'UTC' or 'Europe/Berlin'\n"
        "  - [defaults.year] 1800 is out of range; use a whole number from 1970 to 2200\n"
        "  - [sources[1].match] is required; add a glob such as 'gateway/*.log'\n"
        "  - [sources[1].parser] got the number 7; use a parser name (see `timeline parsers`)\n"
        "  - [sources[2].yaer] unknown key; did you mean 'year'? (allowed: match, parser, timezone, year)"
    )


CORRELATION_TEXT = """\
[correlation]
refrence = "gateway"
clock_source = "dir"
max_skew_ms = -5
max_events_per_id = "many"

[[correlation.heuristics]]
match = ["clinet_address", 3]
window_ms = 0
orphan_layers = ["gatewy"]

[[correlation.offsets]]
match = "inference/*.log"
offset_ms = true
"""


def test_correlation_reports_every_problem_at_once(tmp_path: Path) -> None:
    path = tmp_path / "timeline.toml"
    path.write_text(CORRELATION_TEXT)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: 10 problems:\n"
        "  - [correlation.refrence] unknown key; did you mean 'reference'? (allowed: clock_source, max_events_per_id, max_id_span_s, exclude_kinds, reference, max_skew_ms, heuristics, offsets)\n"
        "  - [correlation.clock_source] unknown value 'dir'; allowed: file, directory\n"
        "  - [correlation.max_events_per_id] got the string 'many'; use a non-negative whole number such as 1000\n"
        "  - [correlation.max_skew_ms] -5 is out of range; use a non-negative number\n"
        "  - [correlation.heuristics[1].name] is required; add a rule name such as 'client_route'\n"
        "  - [correlation.heuristics[1].match[1]] 'clinet_address' is not a canonical field; did you mean 'client_address'? (see docs/schema.md)\n"
        "  - [correlation.heuristics[1].match[2]] got the number 3; use a canonical field name\n"
        "  - [correlation.heuristics[1].window_ms] 0 is out of range; use a positive number\n"
        "  - [correlation.heuristics[1].orphan_layers[1]] unknown value 'gatewy'; did you mean 'gateway'? (allowed: gateway, policy, retrieval, inference, other)\n"
        "  - [correlation.offsets[1].offset_ms] got true; use a number such as 2500"
    )


# --- did you mean, for a misspelt key in each kind ------------------------------------------------


def test_misspelt_spec_key_gets_a_suggestion() -> None:
    text = 'name = "a"\nlayer = "other"\ndescription = "d"\nreader = "jsonl"\n[timestamp]\nfield = "t"\ntimezon = "UTC"\n'
    with pytest.raises(SpecError) as info:
        parse_spec(text, "a.toml")
    assert info.value.problems == [
        "[timestamp.timezon] unknown key; did you mean 'timezone'? (allowed: field, formats, timezone, field_formats, required, date_from, date)"
    ]


def test_misspelt_config_key_gets_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "timeline.toml"
    path.write_text('[[sources]]\nmatch = "*.log"\nparsr = "nginx_combined"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: 1 problem:\n"
        "  - [sources[1].parsr] unknown key; did you mean 'parser'? (allowed: match, parser, timezone, year)"
    )


def test_misspelt_correlation_key_gets_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "timeline.toml"
    path.write_text('[[correlation.offsets]]\nmatch = "a/*"\noffset = 5\noffset_ms = 5\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: 1 problem:\n"
        "  - [correlation.offsets[1].offset] unknown key; did you mean 'offset_ms'? (allowed: match, offset_ms)"
    )


# --- one style, also for problems with the whole file --------------------------------------------


def test_spec_and_config_errors_read_alike(tmp_path: Path) -> None:
    problems = Problems()
    problems.add("a.b", "is wrong; fix it")
    problems.add("", "about the whole file; fix it")
    expected = "f.toml: 2 problems:\n  - [a.b] is wrong; fix it\n  - about the whole file; fix it"
    assert render("f.toml", problems) == expected
    with pytest.raises(SpecError) as spec_error:
        problems.raise_if_any("f.toml", SpecError)
    with pytest.raises(ConfigError) as config_error:
        problems.raise_if_any("f.toml", ConfigError)
    assert str(spec_error.value) == str(config_error.value) == expected
    Problems().raise_if_any("f.toml", ConfigError)  # nothing to report: no error


def test_unreadable_files_report_in_the_same_style(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    expected = f"{missing}: 1 problem:\n  - no such file; check the path"
    with pytest.raises(SpecError) as spec_error:
        load_spec(missing)
    with pytest.raises(ConfigError) as config_error:
        load_config(missing)
    assert str(spec_error.value) == str(config_error.value) == expected
    broken = tmp_path / "broken.toml"
    broken.write_text("x = [\n")
    for call, error in ((load_spec, SpecError), (load_config, ConfigError)):
        with pytest.raises(error) as info:
            call(broken)
        assert str(info.value).startswith(f"{broken}: 1 problem:\n  - not valid TOML (")
        assert str(info.value).endswith("); fix the TOML syntax there")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"name = '\xff'\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(binary)


# --- valid files keep their meaning --------------------------------------------------------------


def test_valid_config_keeps_its_meaning(tmp_path: Path) -> None:
    path = tmp_path / "timeline.toml"
    path.write_text(
        'specs = ["specs/a.toml"]\n'
        '[defaults]\ntimezone = "Europe/Berlin"\nyear = 2025\n'
        '[[sources]]\nmatch = "gateway/*.log"\nparser = "nginx_combined"\n'
        '[[sources]]\nmatch = "*.txt"\ntimezone = "UTC"\nyear = 2024\n'
        "[correlation]\nmax_events_per_id = 50.7\nmax_id_span_s = 60\nexclude_kinds = ['tenant_id']\n"
        'reference = "policy"\nmax_skew_ms = 0\nclock_source = "directory"\n'
        '[[correlation.heuristics]]\nname = "r"\nmatch = ["session_id"]\norphan_layers = []\n'
        '[[correlation.offsets]]\nmatch = "inference/*"\noffset_ms = -2500\n'
    )
    assert load_config(path) == BuildConfig(
        timezone="Europe/Berlin",
        year=2025,
        rules=(
            SourceRule("gateway/*.log", "nginx_combined"),
            SourceRule("*.txt", None, "UTC", 2024),
        ),
        specs=(tmp_path / "specs/a.toml",),
        path=str(path),
        correlation=CorrelationConfig(
            max_events_per_id=50,
            max_id_span_s=60.0,
            exclude_kinds=("tenant_id",),
            reference="policy",
            max_skew_ms=0.0,
            heuristics=(HeuristicRule("r", ("session_id",), 2000.0, None, None),),
            offsets=(ManualOffset("inference/*", -2500.0),),
            clock_source="directory",
        ),
    )


def test_correlation_defaults_and_an_empty_rule_list() -> None:
    problems = Problems()
    assert parse_correlation({}, problems) == CorrelationConfig()
    assert parse_correlation({"heuristics": []}, problems).heuristics == ()
    assert CorrelationConfig().heuristics == DEFAULT_RULES
    assert not problems


# --- the kinds ------------------------------------------------------------------------------------


def test_kinds_check_type_and_range() -> None:
    problems = Problems()
    model = Model(
        Key("n", Int(1, 10), default=5),
        Key("x", Float(min=0, min_exclusive=True, finite=True)),
        Key("b", Bool(), default=False),
        Key("c", Choice(("red", "green"))),
        Key("p", PathKind()),
        Key("s", Str(nonempty=True), required=True),
        Key("l", List(Int())),
        Key("m", Map(Scalar(), keys=lambda k: None if k.islower() else "is not lowercase; fix it")),
        Key("t", Tables(Model(Key("k", Str(), required=True)))),
        Key("o", OneOf(Str(), Table(Model(Key("v", Int()))), expected="a name or a table")),
        Key("z", Checked(Str(), lambda v: None if v == "ok" else f"{v!r} is not ok; say 'ok'")),
    )
    values = model.validate(
        {
            "n": 11,
            "x": math.inf,
            "b": 1,
            "c": "Red",
            "p": "",
            "l": [1, True, 2.5, 3],
            "m": {"a": 1, "B": 2, "c": [1]},
            "t": [{"k": "a"}, "x", {}],
            "o": {"v": "1"},
            "z": "no",
            "extra key": 1,
        },
        problems,
        "root",
    )
    assert problems.lines() == [
        '[root."extra key"] unknown key; allowed: n, x, b, c, p, s, l, m, t, o, z',
        "[root.n] 11 is out of range; use a whole number from 1 to 10",
        "[root.x] inf is out of range; use a finite positive number",
        "[root.b] got the number 1; use true or false",
        "[root.c] unknown value 'Red'; did you mean 'red'? (allowed: red, green)",
        "[root.p] is empty; use a file path",
        "[root.s] is required; add a string",
        "[root.l[2]] got true; use a whole number",
        "[root.l[3]] got the number 2.5; use a whole number",
        "[root.m.B] is not lowercase; fix it",
        "[root.m.c] got a list; use a string, number or boolean",
        "[root.t[2]] got the string 'x'; use a table",
        "[root.t[3].k] is required; add a string",
        "[root.o.v] got the string '1'; use a whole number",
        "[root.z] 'no' is not ok; say 'ok'",
    ]
    assert values["n"] == 5 and values["x"] is None and values["b"] is False
    assert values["l"] == (1, 3)
    assert values["m"] == {"a": 1}
    assert [t["k"] for t in values["t"]] == ["a", None]
    assert values.invalid == {"n", "x", "b", "c", "p", "z"}
    assert "s" not in values.given and values.ok("l") and not values.ok("n")
    ok = Problems()
    assert model.validate({"p": "a/b.toml", "s": "x", "x": 0.5}, ok)["p"] == Path("a/b.toml")
    assert not ok


def test_numbers_reject_nan_and_booleans() -> None:
    problems = Problems()
    kind = Float(min=0)
    assert kind.check(math.nan, "a", problems) is INVALID
    assert kind.check(True, "b", problems) is INVALID
    assert kind.check(3, "c", problems) == 3.0
    assert kind.check(math.inf, "d", problems) == math.inf
    assert problems.lines() == [
        "[a] got the number nan; use a non-negative number",
        "[b] got true; use a non-negative number",
    ]
    assert Float(max=2).expected == "a number of at most 2"
    assert Int(min=3).expected == "a whole number of at least 3"
    assert Float(min=0.5, min_exclusive=True).expected == "a number greater than 0.5"


def test_locations_and_descriptions() -> None:
    assert join("", "a") == "a"
    assert join("a", "b c") == 'a."b c"'
    assert join("a", 2) == "a[2]"
    assert describe("x" * 100).startswith("the string 'xxx") and describe("x" * 100).endswith(
        "...'"
    )
    assert (
        describe({}) == "a table" and describe([]) == "an empty list" and describe(False) == "false"
    )


# --- never anything but the documented error ----------------------------------------------------

_NAMES = sorted(
    set(SPEC.names)
    | set(CONFIG.names)
    | set(CORRELATION.names)
    | {"field", "formats", "from", "scale", "split", "json", "map", "include", "require"}
    | {"match", "parser", "year", "timezone", "name", "window_ms", "orphan_layers", "offset_ms"}
    | {"status_code", "duration_ms", "doc_ids", "event_id", "x_request_id", "layer", "E"}
)
_WORDS = [
    "regex",
    "csv",
    "jsonl",
    "gateway",
    "UTC",
    "iso8601",
    "%Y",
    "time",
    "msg",
    "file",
    "session_id",
]
_WORDS += ["^(?P<time>\\S+) (?P<msg>.*)$", "(?P<a", "*.log", ""]
_SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(_WORDS),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(_NAMES) | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=20,
)
_TABLES = st.dictionaries(st.sampled_from(_NAMES) | st.text(max_size=5), _VALUES, max_size=8)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(root=_TABLES, anything=_VALUES)
def test_validation_raises_only_the_documented_error(root: dict[str, Any], anything: Any) -> None:
    try:
        spec_from_table(root, "spec.toml")
    except SpecError as exc:
        assert str(exc).startswith("spec.toml: ")
    for table in (root, {"correlation": anything}, {"sources": anything}):
        try:
            config_from_table(table, Path("timeline.toml"))
        except ConfigError as exc:
            assert str(exc).startswith("timeline.toml: ")
    problems = Problems()
    parse_correlation(anything, problems)
    for model in (SPEC, CONFIG, CORRELATION):
        model.validate(anything, problems, "x")
    assert all(str(p).strip() for p in problems)
