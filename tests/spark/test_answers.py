"""Spark's answers, checked against DuckDB over the same Iceberg tables, and rerun safely (the reruns on a
small lake of this module's own: the seeded lake is only read)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from lakehouse.catalog import load_catalog
from lakehouse.query import duck, duck_answers
from lakehouse.settings import Settings
from lakehouse.tables import ALERTS, CITIZEN_OBSERVATIONS, REPORTS, SOURCE_SNAPSHOTS_PROPERTY, Answer
from testkit.answers import COLUMNS, KEYS, answer_rows, same, summary_of
from testkit.lakes import Lake, private_lake
from testkit.seeded import SMALL, WEEKEND_MULTIPLIER, seed


@pytest.fixture(scope="module")
def analysed(seeded_lake: Lake) -> Lake:
    """The session's seeded lake, analysed when it was built."""
    return seeded_lake


@pytest.fixture(scope="module")
def own(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    """A small analysed lake of this module's own, for the tests that analyse again and append."""
    with private_lake(stack, "rerun", tmp_path_factory.mktemp("rerun")) as lake:
        seed(lake, SMALL)
        yield lake


@pytest.mark.parametrize("which", list(Answer))
def test_answer_has_the_expected_columns(analysed: Lake, which: Answer) -> None:
    columns, rows = answer_rows(analysed, which)
    assert columns == COLUMNS[which]
    assert rows


@pytest.mark.parametrize("which", list(Answer))
def test_answer_equals_duckdb(analysed: Lake, which: Answer) -> None:
    assert_equals_duckdb(analysed, which)


def assert_equals_duckdb(analysed: Lake, which: Answer) -> None:
    settings = analysed.settings
    catalog = load_catalog(settings)
    table = catalog.load_table(which.identifier(settings))
    sources = orjson.loads(str(summary_of(table)[SOURCE_SNAPSHOTS_PROPERTY]))
    scans = []
    for spec in (REPORTS, CITIZEN_OBSERVATIONS, ALERTS):
        raw = catalog.load_table(spec.identifier(settings))
        current = raw.current_snapshot()
        assert current is not None and sources[spec.identifier(settings)] == current.snapshot_id
        scans.append(duck.scan(raw))
    reports, observations, alerts = scans
    want = duck_answers.answer(
        duck.connect(settings), which, reports, observations, alerts, settings.rules.low_harmony_threshold
    )
    _, got = answer_rows(analysed, which)
    keys = [COLUMNS[which].index(k) for k in KEYS[which]]
    got_by = {tuple(r[k] for k in keys): r for r in got}
    want_by = {tuple(r[k] for k in keys): r for r in want}
    assert set(got_by) == set(want_by)
    for k, row in got_by.items():
        assert all(same(a, b) for a, b in zip(row, want_by[k], strict=True)), (k, row, want_by[k])


def test_weekend_answer_reflects_the_configured_multiplier(analysed: Lake) -> None:
    _, rows = answer_rows(analysed, Answer.BY_WEEKDAY)
    c = COLUMNS[Answer.BY_WEEKDAY]
    per_type = {True: [0, 0], False: [0, 0]}
    for r in rows:
        per_type[r[c.index("is_weekend")]][0] += r[c.index("low_score_citizens")]
        per_type[r[c.index("is_weekend")]][1] += r[c.index("days")]
    assert per_type[True][1] == 4 and per_type[False][1] == 10
    ratio = (per_type[True][0] / per_type[True][1]) / (per_type[False][0] / per_type[False][1])
    assert abs(ratio - WEEKEND_MULTIPLIER) < 0.35, ratio
    assert len(rows) == 7


def test_peak_hours_are_in_the_evening(analysed: Lake) -> None:
    _, rows = answer_rows(analysed, Answer.BY_HOUR)
    c = COLUMNS[Answer.BY_HOUR]
    peaks = sorted(r[c.index("hour")] for r in rows if r[c.index("is_peak")])
    # The simulator's profile peaks late in the evening; one riot can still put an afternoon hour in.
    assert len(peaks) == 3 and sum(h >= 18 or h <= 1 for h in peaks) >= 2, peaks


def test_unrest_words_top_the_lift(analysed: Lake) -> None:
    from simulator.world import UNREST_WORDS

    _, rows = answer_rows(analysed, Answer.WORDS)
    top = [r[0] for r in sorted((r for r in rows if r[4] is not None), key=lambda r: r[4])[:5]]
    assert set(top) <= set(UNREST_WORDS), top


def test_second_run_replaces_without_duplicates(own: Lake) -> None:
    before = {w: sorted(answer_rows(own, w)[1], key=str) for w in Answer}
    own.harmony("analyze", "--master", "local[2]")
    after = {w: sorted(answer_rows(own, w)[1], key=str) for w in Answer}
    for w in Answer:
        assert len(before[w]) == len(after[w]), "a rerun replaces rows, never adds"
        # Floating sums may differ in the last bits: Spark adds partitions in any order.
        for old, new in zip(before[w], after[w], strict=True):
            assert all(same(a, b) for a, b in zip(old, new, strict=True)), (old, new)


def test_incremental_run_adds_only_the_appended_rows(own: Lake) -> None:
    lake = own
    out = lake.harmony("analyze", "--master", "local[2]", "--incremental")
    assert "nothing to compute" in out.stderr, "unchanged inputs: an incremental run does nothing"
    _, days_before = answer_rows(lake, Answer.BY_DAY)
    more = ("--start", "2026-09-10", "--days", "2", "--drones", "8", "--interval", "60", "--seed", "22")
    lake.harmony("simulate", *more, "--ground-truth", str(lake.tmp / "more.jsonl"))
    lake.harmony("ingest", "--timeout", "8")
    out = lake.harmony("analyze", "--master", "local[2]", "--incremental")
    assert "analyze (incremental)" in out.stderr, out.stderr[-2000:]
    catalog = load_catalog(lake.settings)
    for which in Answer:
        summary = summary_of(catalog.load_table(which.identifier(lake.settings)))
        assert summary["harmony.analyze-mode"] == "incremental"
        assert_equals_duckdb(lake, which)  # the same as a full computation over every row
    _, days = answer_rows(lake, Answer.BY_DAY)
    assert len(days_before) == 3 and len(days) == 5


@pytest.mark.parametrize("which", list(Answer))
def test_harmony_sql_on_trino_returns_what_duckdb_reads(analysed: Lake, which: Answer) -> None:
    """`harmony sql` (Trino, the default) and `harmony sql --engine duckdb` agree on every answer table."""
    query = f"SELECT * FROM {which.identifier(analysed.settings)} ORDER BY 1, 2, 3"  # a unique order for each
    via = {}
    for engine in ("trino", "duckdb"):
        out = analysed.harmony("sql", query, "--engine", engine, "--format", "json")
        assert out.returncode == 0, out.stderr
        via[engine] = orjson.loads(out.stdout)
    assert via["trino"], "the answer table has rows"
    assert len(via["trino"]) == len(via["duckdb"])
    for t_row, d_row in zip(via["trino"], via["duckdb"], strict=True):
        assert list(t_row) == list(d_row)
        for column in t_row:
            t, d = t_row[column], d_row[column]
            if isinstance(t, str) and isinstance(d, str) and t[:4].isdigit():
                t, d = t[:10], d[:10]  # a day or timestamp: engines print time zones differently
            assert same(t, d), (column, t, d)
