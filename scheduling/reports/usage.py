"""The sessions of a location's weeks, counted: the booked ones per room, device, clinician and hour (the
utilization report counts the weeks of its period this way), all of them per clinician and confirmation
(``attendance_counts``, the attendance report's way). ``usage_weeks_count`` keeps both counts of every
week (``UsageWeek``, ``UsageCount``, ``AttendanceCount``) so a year's reports read those instead of the
sessions.

The reports and the count go through the same SQL and the same ORM expressions, so a kept week holds
exactly what the report would have counted from its sessions. A trigger forgets a week as soon as one of
its sessions changes, or its location's time zone or late-change window (migration 0012); the next count
keeps it again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from scheduling.models import Appointment, AppointmentStatus, AttendanceCount
from scheduling.reports.attendance import ATTENDANCE_FIGURES, attendance_counts
from scheduling.reports.period import local_days_q

logger = logging.getLogger(__name__)

BOOKED_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED, AppointmentStatus.FULFILLED,
                   AppointmentStatus.NOSHOW)

# The booked sessions of the weeks in ``weeks_to_count`` (location_id, time_zone, week, first, last: local
# days of the week, or of its part inside a report's period), each week read on its location's index on
# the start instant: ``OFFSET 0`` keeps the subquery apart, so PostgreSQL runs it once per week with that
# week's bounds instead of joining every session of the locations to the weeks.
SESSIONS_SQL = """
  SELECT w.location_id, w.week, a.room_id, a.device_id, a.clinician_id,
         EXTRACT(EPOCH FROM a.ends_at - a.starts_at)::float8 / 60 AS minutes, a.status = 'fulfilled' AS fulfilled,
         EXTRACT(isodow FROM a.local_date)::int AS weekday,
         EXTRACT(hour FROM timezone(w.time_zone, a.starts_at))::int AS hour
  FROM weeks_to_count w CROSS JOIN LATERAL (
    SELECT a.room_id, a.device_id, a.clinician_id, a.starts_at, a.ends_at, a.status, a.local_date
    FROM scheduling_appointment a
    WHERE a.location_id = w.location_id AND a.starts_at >= timezone(w.time_zone, w.first::timestamp)
      AND a.starts_at < timezone(w.time_zone, (w.last + 1)::timestamp) AND a.local_date BETWEEN w.first AND w.last
      AND a.status = ANY(%(booked_statuses)s)
    OFFSET 0
  ) AS a
"""

# ``sessions`` counted per location and week: minutes per room, device and clinician; sessions per weekday
# and hour (the weekday in ``resource_id``). The columns of ``UsageCount``.
COUNTED_SQL = """
  SELECT location_id, week,
         CASE WHEN GROUPING(room_id) = 0 THEN 'room' WHEN GROUPING(device_id) = 0 THEN 'device'
              WHEN GROUPING(clinician_id) = 0 THEN 'clinician' ELSE 'hour' END AS kind,
         COALESCE(room_id, device_id, clinician_id, weekday) AS resource_id, hour, count(*)::int AS sessions,
         SUM(minutes) AS booked_minutes, COALESCE(SUM(minutes) FILTER (WHERE fulfilled), 0) AS fulfilled_minutes
  FROM sessions
  GROUP BY GROUPING SETS ((location_id, week, room_id), (location_id, week, device_id),
                          (location_id, week, clinician_id), (location_id, week, weekday, hour))
"""

# Every week from the location's first session to its last (ended, current or to come) not counted yet: a
# week stays counted until one of its sessions changes (the trigger of migration 0012 forgets it then).
_WEEKS_TO_COUNT_SQL = """
SELECT l.id, w::date
FROM clinic_location l
CROSS JOIN LATERAL (SELECT min(a.starts_at) AS first, max(a.starts_at) AS last FROM scheduling_appointment a
                    WHERE a.location_id = l.id) AS sessions
CROSS JOIN LATERAL generate_series(date_trunc('week', timezone(l.time_zone, sessions.first)),
                                   timezone(l.time_zone, sessions.last), interval '1 week') AS w
WHERE NOT EXISTS (SELECT 1 FROM scheduling_usageweek u WHERE u.location_id = l.id AND u.week = w::date)
"""
# Those weeks marked counted and their usage counts written, in one statement (_COUNT_SQL).
_MARK_WEEKS_SQL = """
WITH weeks_to_count AS (
  SELECT w.location_id, l.time_zone, w.week, w.week AS first, w.week + 6 AS last
  FROM unnest(%(locations)s::bigint[], %(weeks)s::date[]) AS w(location_id, week)
  JOIN clinic_location l ON l.id = w.location_id
),
marked AS (
  INSERT INTO scheduling_usageweek (location_id, week, counted_at)
  SELECT location_id, week, %(now)s FROM weeks_to_count
),
"""
_WRITE_COUNTS_SQL = """
INSERT INTO scheduling_usagecount (location_id, week, kind, resource_id, hour, sessions, booked_minutes,
                                   fulfilled_minutes)
"""
# A week's rows are written together, so the reports read them from a few pages.
_COUNT_SQL = "".join((  # constant pieces of SQL; every value is a parameter
    _MARK_WEEKS_SQL, "sessions AS (", SESSIONS_SQL, ")", _WRITE_COUNTS_SQL, COUNTED_SQL,
    "ORDER BY location_id, week\n"))


def usage_weeks_count(*, now: datetime | None = None) -> int:
    """Count the sessions of every week not counted yet (from each location's first session to its last),
    at every location; the number of weeks counted.

    Writes to the appointments wait while it counts (a lock that lets reads through), so no session can
    change between the count and its keeping unseen by the trigger; the lock is given up after a few
    seconds of waiting behind a long write (``OperationalError``: the task tries again later).
    """
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '5s'")
        cursor.execute("SET LOCAL jit = off")  # see sql_rows
        cursor.execute("LOCK TABLE scheduling_appointment IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(_WEEKS_TO_COUNT_SQL)
        weeks = cursor.fetchall()
        if not weeks:
            return 0
        cursor.execute(_COUNT_SQL, {"now": now, "booked_statuses": list(BOOKED_STATUSES),
                                    "locations": [location_id for location_id, _ in weeks],
                                    "weeks": [week for _, week in weeks]})
        attendance = AttendanceCount.objects.bulk_create(
            [AttendanceCount(location_id=values["location_id"], week=values["week"],
                             clinician_id=values["clinician_id"], confirmed=values["confirmed"],
                             **{name: values[name] for name in (*ATTENDANCE_FIGURES, "by_link")})
             for values in attendance_counts(Appointment.objects.filter(local_days_q(
                 [(location_id, week, week + timedelta(days=6)) for location_id, week in weeks])))
             .order_by("location_id", "week")],
            batch_size=5000)
    logger.info("usage counted: %s weeks, %s attendance counts", len(weeks), len(attendance))
    return len(weeks)
