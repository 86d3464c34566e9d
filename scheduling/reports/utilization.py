"""Report 1, utilization: open, booked and fulfilled minutes per room, device and clinician and week (of
several locations: per location, its rooms, devices and clinicians together); the busiest hours. One
statement (docs/reports.md), without JIT compilation (``sql_rows``): a week of the period kept counted
(``usage``) is read from its counts, any other week (or part of one) is counted from its sessions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from scheduling.reports.period import ReportPeriod, percent, sql_rows
from scheduling.reports.usage import BOOKED_STATUSES, COUNTED_SQL, SESSIONS_SQL

# One statement for the three kinds of resource. Open time is worked out per *schedule* and day (a
# location's opening hours, or one clinician's own working hours at a location), less the closures of the
# whole location; each room, device and clinician takes its schedule's minutes, less its own closures.
# So the cost follows the locations' days, not the resources times the days. A row of the report is one
# resource (``key`` its id) or, over several locations (``by_location``), a location's resources of a kind
# (``key`` the location's id): its open minutes are its schedules' minutes times its resources on each.
_OPEN_SQL = """
WITH resources AS (
  SELECT *, CASE WHEN %(by_location)s THEN location_id ELSE resource_id END AS key FROM (
  SELECT 'room' AS kind, r.id AS resource_id, r.location_id, 'l' || r.location_id AS schedule, r.name AS label
  FROM clinic_room r WHERE r.is_active AND r.location_id = ANY(%(locations)s)
  UNION ALL
  SELECT 'device', d.id, d.location_id, 'l' || d.location_id, d.model || ' #' || d.serial_number
  FROM clinic_device d WHERE d.in_service AND d.location_id = ANY(%(locations)s)
  UNION ALL
  SELECT 'clinician', s.id, sl.location_id,
         CASE WHEN EXISTS (SELECT 1 FROM clinic_workinghours w WHERE w.clinician_id = s.id
                           AND w.location_id = sl.location_id)
              THEN 'c' || s.id || '-' || sl.location_id ELSE 'l' || sl.location_id END,
         trim(u.first_name || ' ' || u.last_name)
  FROM clinic_staff s JOIN clinic_staff_locations sl ON sl.staff_id = s.id JOIN auth_user u ON u.id = s.user_id
  WHERE s.role = 'clinician' AND s.is_active AND sl.location_id = ANY(%(locations)s)
  ) AS each_resource
),
hours AS (
  SELECT 'l' || oh.location_id AS schedule, oh.location_id, oh.weekday, oh.opens_at AS starts, oh.closes_at AS ends
  FROM clinic_openinghours oh WHERE oh.location_id = ANY(%(locations)s)
  UNION ALL
  SELECT 'c' || wh.clinician_id || '-' || wh.location_id, wh.location_id, wh.weekday, wh.starts_at, wh.ends_at
  FROM clinic_workinghours wh WHERE wh.location_id = ANY(%(locations)s)
),
days AS (
  SELECT l.id AS location_id, l.time_zone, d::date AS day
  FROM clinic_location l, generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS d
  WHERE l.id = ANY(%(locations)s)
),
free AS (
  SELECT h.schedule, h.location_id, days.day,
         range_agg(tstzrange(timezone(days.time_zone, days.day + h.starts),
                             timezone(days.time_zone, days.day + h.ends)))
         - COALESCE((
           SELECT range_agg(tstzrange(c.starts_at, c.ends_at)) FROM clinic_closure c
           WHERE c.location_id = h.location_id AND c.room_id IS NULL AND c.device_id IS NULL AND c.clinician_id IS NULL
             AND c.starts_at < timezone(days.time_zone, (days.day + 1)::timestamp)
             AND c.ends_at > timezone(days.time_zone, days.day::timestamp)
         ), '{}'::tstzmultirange) AS free
  FROM hours h JOIN days ON days.location_id = h.location_id AND h.weekday = EXTRACT(isodow FROM days.day) - 1
  GROUP BY h.schedule, h.location_id, days.day, days.time_zone
),
free_minutes AS (
  SELECT f.schedule, f.location_id, f.day, f.free,
         (SELECT COALESCE(SUM(EXTRACT(EPOCH FROM upper(p) - lower(p))::float8), 0) / 60
          FROM unnest(f.free) AS p) AS minutes
  FROM free f
),
own_closures AS (
  SELECT r.kind, r.resource_id, r.key, m.day, m.minutes - (
           SELECT COALESCE(SUM(EXTRACT(EPOCH FROM upper(p) - lower(p))::float8), 0) / 60
           FROM unnest(m.free - range_agg(tstzrange(c.starts_at, c.ends_at))) AS p) AS lost
  FROM clinic_closure c
  JOIN resources r ON r.location_id = c.location_id AND r.resource_id = CASE r.kind WHEN 'room' THEN c.room_id
                                                                       WHEN 'device' THEN c.device_id
                                                                       ELSE c.clinician_id END
  JOIN free_minutes m ON m.schedule = r.schedule AND m.location_id = r.location_id
                     AND m.free && tstzrange(c.starts_at, c.ends_at)
  WHERE c.location_id = ANY(%(locations)s)
  GROUP BY r.kind, r.resource_id, r.key, m.day, m.minutes, m.free
),
weekly_minutes AS (
  SELECT schedule, location_id, date_trunc('week', day)::date AS week, SUM(minutes) AS minutes
  FROM free_minutes GROUP BY 1, 2, 3
),
open_minutes AS (
  SELECT r.kind, r.key, w.week, SUM(w.minutes * r.resources) AS minutes
  FROM (SELECT kind, key, schedule, location_id, count(*) AS resources FROM resources GROUP BY 1, 2, 3, 4) AS r
  JOIN weekly_minutes w ON w.schedule = r.schedule AND w.location_id = r.location_id
  GROUP BY 1, 2, 3
),
lost AS (
  SELECT kind, key, date_trunc('week', day)::date AS week, SUM(lost) AS minutes
  FROM own_closures GROUP BY 1, 2, 3
),
period_weeks AS (
  SELECT l.id AS location_id, l.time_zone, w.week, greatest(w.week, %(start)s::date) AS first,
         least(w.week + 6, %(end)s::date) AS last
  FROM clinic_location l, (SELECT %(monday)s::date + 7 * i AS week FROM generate_series(0, %(weeks)s - 1) AS i) AS w
  WHERE l.id = ANY(%(locations)s)
),
kept AS (
  SELECT w.location_id, w.week FROM period_weeks w
  JOIN scheduling_usageweek u ON u.location_id = w.location_id AND u.week = w.week
  WHERE w.first = w.week AND w.last = w.week + 6
),
weeks_to_count AS (
  SELECT * FROM period_weeks w
  WHERE NOT EXISTS (SELECT 1 FROM kept k WHERE k.location_id = w.location_id AND k.week = w.week)
),
"""
# After the sessions of the weeks to count and their counts (``usage``): the kept weeks' counts, then the
# minutes per resource and week with their names, and the heat map.
_KEPT_SQL = """  UNION ALL
  SELECT c.location_id, c.week, c.kind, c.resource_id, c.hour, c.sessions, c.booked_minutes, c.fulfilled_minutes
  FROM kept k JOIN scheduling_usagecount c ON c.location_id = k.location_id AND c.week = k.week
),
booked AS (
  SELECT kind, CASE WHEN %(by_location)s THEN location_id ELSE resource_id END AS key, week, booked_minutes,
         fulfilled_minutes
  FROM counted WHERE kind <> 'hour'
),
usage AS (
  SELECT kind, key, week, SUM(open) AS open, SUM(booked) AS booked, SUM(fulfilled) AS fulfilled FROM (
    SELECT kind, key, week, minutes AS open, 0 AS booked, 0 AS fulfilled FROM open_minutes
    UNION ALL SELECT kind, key, week, -minutes, 0, 0 FROM lost
    UNION ALL SELECT kind, key, week, 0, booked_minutes, fulfilled_minutes FROM booked
  ) AS parts GROUP BY 1, 2, 3
),
names AS (
  SELECT 'room' AS kind, id, name AS label FROM clinic_room WHERE NOT %(by_location)s
  UNION ALL SELECT 'device', id, model || ' #' || serial_number FROM clinic_device WHERE NOT %(by_location)s
  UNION ALL SELECT 'clinician', s.id, trim(u.first_name || ' ' || u.last_name)
  FROM clinic_staff s JOIN auth_user u ON u.id = s.user_id WHERE NOT %(by_location)s
  UNION ALL SELECT kind, l.id, l.name FROM clinic_location l, unnest(ARRAY['room', 'device', 'clinician']) AS kind
  WHERE %(by_location)s
)
SELECT u.kind, u.key, n.label, u.week, round(u.open)::int, round(u.booked)::int, round(u.fulfilled)::int
FROM usage u JOIN names n ON n.kind = u.kind AND n.id = u.key
UNION ALL
-- The heat map from the same counts: (weekday, hour, sessions) in the last three columns.
SELECT 'hour', NULL, NULL, NULL, resource_id, hour, SUM(sessions)::int FROM counted WHERE kind = 'hour'
GROUP BY resource_id, hour
"""
_UTILIZATION_SQL = "".join((  # constant pieces of SQL; every value is a parameter
    _OPEN_SQL, "sessions AS (", SESSIONS_SQL, "),\ncounted AS (", COUNTED_SQL, _KEPT_SQL))


class UsageRow(NamedTuple):  # a tuple: a year of 250 resources' weeks is 13,000 of them
    kind: str  # room, device, clinician
    resource_id: int | None  # one resource; None: a location's resources of the kind together
    location_id: int | None  # that location (None for one resource: a clinician may work at several)
    label: str  # the resource's name, or the location's
    week: date | None  # None: the whole period
    open_minutes: int
    booked_minutes: int
    fulfilled_minutes: int

    @property
    def booked_percent(self) -> float | None:
        return percent(self.booked_minutes, self.open_minutes)

    @property
    def fulfilled_percent(self) -> float | None:
        return percent(self.fulfilled_minutes, self.open_minutes)


@dataclass
class UtilizationReport:
    period: ReportPeriod
    weekly: list[UsageRow]  # per resource (over several locations: per location) and week
    totals: list[UsageRow]  # the same rows over the whole period
    heat: dict[tuple[int, int], int]  # (ISO weekday 1-7, local hour) -> booked sessions starting then
    summary: dict[str, float | int | None] = field(default_factory=dict)

    def by_kind(self, kind: str) -> list[UsageRow]:
        return [row for row in self.totals if row.kind == kind]


def report_utilization(*, period: ReportPeriod) -> UtilizationReport:
    """Booked and fulfilled minutes against open minutes per room, device and clinician, per week and for
    the period, and the booked sessions by weekday and hour (one statement). Over several locations a row
    is a location's rooms, devices or clinicians together: a thousand locations have 50,000 resources,
    2.6 million rows a year, which no one reads (bench/README.md)."""
    monday = period.start - timedelta(days=period.start.weekday())
    by_location = period.several_locations
    rows = sql_rows(_UTILIZATION_SQL, {
        "locations": list(period.location_ids), "start": period.start, "end": period.end, "by_location": by_location,
        "monday": monday, "weeks": (period.end - monday).days // 7 + 1, "booked_statuses": list(BOOKED_STATUSES)},
        jit=False)
    heat = {(weekday, hour): sessions for kind, *_, weekday, hour, sessions in rows if kind == "hour"}
    order = {"room": 0, "device": 1, "clinician": 2}
    weekly = [UsageRow(kind, None if by_location else key, key if by_location else None, label, *figures)
              for kind, key, label, *figures in sorted((row for row in rows if row[0] != "hour"),
                                                       key=lambda row: (order[row[0]], row[2], row[1], row[3]))]
    whole: dict[tuple[str, int | None, int | None], list] = {}
    for row in weekly:
        total = whole.setdefault((row.kind, row.resource_id, row.location_id), [row.label, 0, 0, 0])
        total[1] += row.open_minutes
        total[2] += row.booked_minutes
        total[3] += row.fulfilled_minutes
    totals = [UsageRow(kind, resource_id, location_id, label, None, open_minutes, booked, fulfilled)
              for (kind, resource_id, location_id), (label, open_minutes, booked, fulfilled) in whole.items()]
    rooms = [row for row in totals if row.kind == "room"]
    open_minutes = sum(row.open_minutes for row in rooms)
    report = UtilizationReport(period=period, weekly=weekly, totals=totals, heat=heat)
    report.summary = {
        "room_open_minutes": open_minutes,
        "room_booked_minutes": sum(row.booked_minutes for row in rooms),
        "room_fulfilled_minutes": sum(row.fulfilled_minutes for row in rooms),
        "room_booked_percent": percent(sum(row.booked_minutes for row in rooms), open_minutes),
        "room_fulfilled_percent": percent(sum(row.fulfilled_minutes for row in rooms), open_minutes),
    }
    return report
