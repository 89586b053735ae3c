"""The four analytic questions in DuckDB SQL over the same Iceberg tables: the second engine.

Written independently of the Spark jobs (same definitions, another engine) so each answer can be
checked against it, and so a laptop can answer the questions without a JVM.
"""

from __future__ import annotations

from typing import Any

import duckdb

from lakehouse.city import CITY
from lakehouse.tables import MIN_WORD_SUPPORT, PEAK_HOURS, Answer


def _sql(answer: Answer, reports: str, observations: str, alerts: str, threshold: float) -> str:
    riots = f"(SELECT alert_id, zone, min(event_time) AS event_time FROM {alerts} WHERE kind = 'riot' GROUP BY ALL)"  # noqa: S608
    if answer is Answer.BY_DAY:
        return f"""
        WITH days AS (SELECT CAST(event_time AS DATE) AS day, count(*) AS citizens_seen,
                             count(*) FILTER (harmony_score < {threshold}) AS low_score_citizens
                      FROM {observations} GROUP BY 1),
             riots AS (SELECT CAST(event_time AS DATE) AS day, count(*) AS riot_alerts FROM {riots} GROUP BY 1)
        SELECT day, citizens_seen::BIGINT, low_score_citizens::BIGINT, coalesce(riot_alerts, 0)::BIGINT
        FROM days LEFT JOIN riots USING (day) ORDER BY day"""  # noqa: S608
    if answer is Answer.BY_WEEKDAY:
        return f"""
        WITH days AS (SELECT isodow(d) AS day_of_week, count(*) AS days
                      FROM (SELECT DISTINCT CAST(event_time AS DATE) AS d FROM {observations}) GROUP BY 1),
             lows AS (SELECT isodow(event_time) AS day_of_week, count(*) AS citizens_seen,
                             count(*) FILTER (harmony_score < {threshold}) AS low_score_citizens
                      FROM {observations} GROUP BY 1),
             riots AS (SELECT isodow(event_time) AS day_of_week, count(*) AS riot_alerts FROM {riots} GROUP BY 1)
        SELECT days.day_of_week::INT, dayname(DATE '2024-01-01' + (days.day_of_week - 1)::INT) AS day_name,
               days.day_of_week >= 6 AS is_weekend, days.days::BIGINT,
               coalesce(citizens_seen, 0)::BIGINT, coalesce(low_score_citizens, 0)::BIGINT,
               coalesce(riot_alerts, 0)::BIGINT,
               coalesce(low_score_citizens, 0) / days.days, coalesce(riot_alerts, 0) / days.days
        FROM days LEFT JOIN lows USING (day_of_week) LEFT JOIN riots USING (day_of_week)
        ORDER BY 1"""  # noqa: S608
    if answer is Answer.BY_HOUR:
        return f"""
        WITH lows AS (SELECT hour(event_time) AS hour, count(*) AS citizens_seen,
                             count(*) FILTER (harmony_score < {threshold}) AS low_score_citizens
                      FROM {observations} GROUP BY 1),
             riots AS (SELECT hour(event_time) AS hour, count(*) AS riot_alerts FROM {riots} GROUP BY 1),
             joined AS (SELECT hour, citizens_seen, low_score_citizens, coalesce(riot_alerts, 0) AS riot_alerts
                        FROM lows LEFT JOIN riots USING (hour)),
             ranked AS (SELECT *, row_number() OVER (ORDER BY low_score_citizens DESC, riot_alerts DESC, hour)
                                  AS unrest_rank FROM joined)
        SELECT hour::INT, citizens_seen::BIGINT, low_score_citizens::BIGINT,
               low_score_citizens / citizens_seen, riot_alerts::BIGINT, unrest_rank::INT,
               unrest_rank <= {PEAK_HOURS}
        FROM ranked ORDER BY hour"""  # noqa: S608
    if answer is Answer.BY_ZONE:
        centres = ", ".join(
            f"('{z.name}', {z.centre[0]!r}::DOUBLE, {z.centre[1]!r}::DOUBLE)" for z in CITY.zones
        )
        return f"""
        WITH stats AS (SELECT zone, count(*) AS citizens_seen,
                              count(*) FILTER (harmony_score < {threshold}) AS low_score_citizens,
                              avg(harmony_score) AS avg_harmony_score
                       FROM {observations} GROUP BY 1),
             riots AS (SELECT zone, count(*) AS riot_alerts FROM {riots} GROUP BY 1),
             centres(zone, centre_lat, centre_lon) AS (VALUES {centres}),
             joined AS (SELECT stats.*, coalesce(riot_alerts, 0) AS riot_alerts, centre_lat, centre_lon
                        FROM stats LEFT JOIN riots USING (zone) LEFT JOIN centres USING (zone))
        SELECT zone, citizens_seen::BIGINT, low_score_citizens::BIGINT, low_score_citizens / citizens_seen,
               avg_harmony_score, avg_harmony_score * citizens_seen, riot_alerts::BIGINT, centre_lat, centre_lon,
               row_number() OVER (ORDER BY riot_alerts DESC, low_score_citizens DESC, zone)::INT AS risk_rank
        FROM joined ORDER BY risk_rank"""  # noqa: S608
    if answer is Answer.BY_ZONE_HOUR:
        return f"""
        WITH cells AS (SELECT CAST(event_time AS DATE) AS day, zone, hour(event_time) AS hour, count(*) AS citizens_seen,
                              count(*) FILTER (harmony_score < {threshold}) AS low_score_citizens
                       FROM {observations} GROUP BY 1, 2, 3),
             riots AS (SELECT CAST(event_time AS DATE) AS day, zone, hour(event_time) AS hour, count(*) AS riot_alerts
                       FROM {riots} GROUP BY 1, 2, 3)
        SELECT day, zone, hour::INT, citizens_seen::BIGINT, low_score_citizens::BIGINT, coalesce(riot_alerts, 0)::BIGINT
        FROM cells LEFT JOIN riots USING (day, zone, hour) ORDER BY day, zone, hour"""  # noqa: S608
    if answer is Answer.WORDS:
        return f"""
        WITH per_report AS (
                 SELECT list_distinct(words) AS words, len(citizens)::BIGINT AS n_all,
                        len(list_filter(citizens, c -> c.harmony_score < {threshold}))::BIGINT AS n_low
                 FROM {reports} WHERE len(citizens) > 0),
             totals AS (SELECT count(*) AS total_all, count(*) FILTER (harmony_score < {threshold}) AS total_low
                        FROM {observations}),
             counts AS (SELECT word, sum(n_all) AS citizens_hearing, sum(n_low) AS low_citizens_hearing
                        FROM (SELECT unnest(words) AS word, n_all, n_low FROM per_report) GROUP BY 1),
             lifted AS (SELECT word, citizens_hearing::BIGINT AS citizens_hearing,
                               low_citizens_hearing::BIGINT AS low_citizens_hearing,
                               (low_citizens_hearing / total_low) / (citizens_hearing / total_all) AS lift
                        FROM counts, totals)
        SELECT *, CASE WHEN citizens_hearing >= {MIN_WORD_SUPPORT} THEN row_number() OVER (
                      PARTITION BY citizens_hearing >= {MIN_WORD_SUPPORT} ORDER BY lift DESC, word) END::INT AS lift_rank
        FROM lifted ORDER BY lift_rank, word"""  # noqa: S608
    raise ValueError(answer)


def answer(
    con: duckdb.DuckDBPyConnection,
    which: Answer,
    reports: str,
    observations: str,
    alerts: str,
    threshold: float,
) -> list[tuple[Any, ...]]:
    """Rows of one answer, in the Spark table's column order. Arguments are table expressions."""
    con.execute("SET TimeZone = 'UTC'")
    return con.execute(_sql(which, reports, observations, alerts, threshold)).fetchall()
