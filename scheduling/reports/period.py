"""Who reads the managers' reports and for which period, and what every report shares.

docs/reports.md says how each figure is computed. A period is a range of local days [start, end] at each
location: an appointment belongs to the day of its ``local_date`` (its day at its location), a week is
the Monday-to-Sunday week of that local day, and an hour is the hour of the location's wall clock, so a
session at 09:00 counts in the 09:00 hour on both sides of a daylight-saving change. Only managers (and
superusers) read these figures (``report_access_check``).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import DateField, F, Func, Q
from django.utils import timezone

from clinic.models import Location, StaffRole
from clinic.selectors import locations_visible_to, staff_role
from scheduling.models import Appointment

REPORTS_FORBIDDEN = "Only managers see the reports."
DEFAULT_WEEKS = 4
MAX_DAYS = 366 * 2


# ---------------------------------------------------------------------------------------------
# Who and what: the manager, the period and the locations


def report_access_allowed(*, user) -> bool:
    """Managers see the reports (a superuser acts as one); the front desk and clinicians do not."""
    return staff_role(user) == StaffRole.MANAGER


def report_access_check(*, user) -> None:
    """PermissionDenied unless ``report_access_allowed``: the pages, the API (session or token) and the CSV
    exports all ask this before reading anything."""
    if not report_access_allowed(user=user):
        raise PermissionDenied(REPORTS_FORBIDDEN)


@dataclass(frozen=True)
class ReportPeriod:
    """Local days ``start`` to ``end``, both included, at ``locations`` (ids), or every location."""

    start: date
    end: date
    location: Location | None
    location_ids: tuple[int, ...]

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def several_locations(self) -> bool:
        """More than one location: the utilization report's rows are then locations, not resources."""
        return len(self.location_ids) > 1

    @property
    def instants(self) -> tuple[datetime, datetime]:
        """Instants that hold every location's local days of the period (``local_days_instants``)."""
        return local_days_instants(self.start, self.end)

    @property
    def details(self) -> dict:
        """What was asked, for the audit trail."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "location": self.location.pk if self.location is not None else None}

    @property
    def previous(self) -> ReportPeriod:
        """The period of the same length just before this one, for comparison."""
        return ReportPeriod(start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1),
                            location=self.location, location_ids=self.location_ids)


def local_days_instants(first: date, last: date) -> tuple[datetime, datetime]:
    """Instants that hold every location's local days ``first`` to ``last`` (UTC offsets run from -12 to +14
    hours): a bound on ``starts_at`` that lets the indexes on it narrow what is read."""
    return (datetime.combine(first, time(), tzinfo=UTC) - timedelta(hours=15),
            datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC) + timedelta(hours=13))


def days_not_in(period: ReportPeriod, weeks: set[tuple[int, date]]) -> list[tuple[int, date, date]]:
    """The period's local days at each of its locations outside ``weeks`` ((location id, Monday) pairs), week
    by week: (location id, first day, last day), the week cut to the period."""
    first_monday = period.start - timedelta(days=period.start.weekday())
    mondays = [first_monday + timedelta(weeks=n) for n in range((period.end - first_monday).days // 7 + 1)]
    return [(location_id, max(monday, period.start), min(monday + timedelta(days=6), period.end))
            for monday in mondays for location_id in period.location_ids if (location_id, monday) not in weeks]


def local_days_q(days: list[tuple[int, date, date]]) -> Q | None:
    """The appointments on these local days ((location id, first day, last day)), each also bounded on
    ``starts_at`` so the index on (location, start) reads only those days; None for no days at all.

    One term per distinct (first, last) over all the locations that have it, and consecutive days of the same
    locations joined: a period's weeks at a thousand locations make at most a term per week, not one per
    location and week (PostgreSQL tests every term on every row it reads)."""
    locations: dict[tuple[date, date], list[int]] = {}
    for location_id, first, last in days:
        locations.setdefault((first, last), []).append(location_id)
    terms: list[tuple[date, date, list[int]]] = []
    for (first, last), ids in sorted((span, sorted(ids)) for span, ids in locations.items()):
        if terms and terms[-1][2] == ids and terms[-1][1] + timedelta(days=1) == first:
            first = terms.pop()[0]
        terms.append((first, last, ids))
    found = None
    for first, last, ids in terms:
        earliest, latest = local_days_instants(first, last)
        term = Q(location_id__in=ids, local_date__range=(first, last), starts_at__gte=earliest,
                 starts_at__lt=latest)
        found = term if found is None else found | term
    return found


def report_period(*, user, start: date | None = None, end: date | None = None,
                  location_id: int | None = None) -> ReportPeriod:
    """The period asked for, checked: by default the last four weeks up to yesterday (the server's day);
    ``ValidationError`` with field messages for an end before the start, more than two years, or a
    location the user does not see."""
    report_access_check(user=user)
    errors = {}
    if end is None:
        end = timezone.localdate() - timedelta(days=1)
    if start is None:
        start = end - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1)
    if end < start:
        errors["end"] = f"The end ({end:%d %b %Y}) is before the start ({start:%d %b %Y})."
    elif (end - start).days + 1 > MAX_DAYS:
        errors["end"] = f"A report covers at most {MAX_DAYS} days; choose a shorter range."
    visible = locations_visible_to(user=user)
    location = None
    if location_id is not None:
        location = visible.filter(pk=location_id).first()
        if location is None:
            errors["location"] = f"There is no location {location_id}."
    if errors:
        raise ValidationError(errors)
    ids = (location.pk,) if location is not None else tuple(visible.order_by("pk").values_list("pk", flat=True))
    return ReportPeriod(start=start, end=end, location=location, location_ids=ids)


def appointments_in(period: ReportPeriod):
    """The appointments of the period's local days at its locations, every status."""
    earliest, latest = period.instants
    return Appointment.objects.filter(location_id__in=period.location_ids, local_date__gte=period.start,
                                      local_date__lte=period.end, starts_at__gte=earliest,
                                      starts_at__lt=latest).order_by()


def percent(part: int, whole: int) -> float | None:
    """``part`` in % of ``whole`` to one decimal; None when there is no whole to divide by."""
    return None if not whole else round(100 * part / whole, 1)


class LocalDay(Func):
    """An instant's day on the wall clock of the row's location (``zone``: the path to its time zone)."""

    template = "(timezone(%(expressions)s))::date"
    output_field = DateField()

    def __init__(self, instant: str, zone: str):
        super().__init__(F(zone), F(instant))


def sql_rows(sql: str, params: dict | list, *, jit: bool = True) -> list[tuple]:
    """The rows of one statement whose values all go as parameters. ``jit=False`` turns PostgreSQL's JIT
    compilation off for it (``SET LOCAL``, in the caller's transaction or one of its own): for a statement
    that loops over index scans, the planner's estimate can be far above the real cost, and compiling the
    plan then takes longer than running it."""
    with transaction.atomic(savepoint=False) if not jit else nullcontext(), connection.cursor() as cursor:
        if not jit:
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return cursor.fetchall()
