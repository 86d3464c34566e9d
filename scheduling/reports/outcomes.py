"""Report 3, courses and outcomes: started, ended, response at the end, side effects, maintenance uptake
(docs/reports.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import (
    Aggregate,
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
)

from scheduling.models import (
    AppointmentStatus,
    Course,
    CoursePhase,
    CourseStatus,
    Indication,
    SideEffect,
)
from scheduling.reports.period import LocalDay, ReportPeriod, appointments_in, percent


class Median(Aggregate):
    """The median of the non-null values (PostgreSQL's ``percentile_cont``)."""

    template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()



@dataclass(frozen=True)
class ResponseRow:
    indication: str
    label: str
    ended: int  # initial courses completed or discontinued in the period
    judged: int  # of those, with two or more scores recorded
    responded: int
    median_sessions_to_response: float | None

    @property
    def response_percent(self) -> float | None:
        return percent(self.responded, self.judged)


@dataclass
class OutcomesReport:
    period: ReportPeriod
    by_indication: list[dict]  # indication, label, started, completed, discontinued, maintenance_*
    discontinued_reasons: list[dict]  # reason, courses
    responses: list[ResponseRow]
    sessions: int  # recorded sessions in the period
    side_effects: list[dict]  # kind, label, grade, count, per_100_sessions
    summary: dict[str, float | int | None] = field(default_factory=dict)


def report_outcomes(*, period: ReportPeriod) -> OutcomesReport:
    """Courses started, completed and discontinued (with reasons), response at the end by indication with the
    median sessions to response, side effects per 100 sessions, and maintenance uptake (five queries)."""
    in_period = {"local_ended__gte": period.start, "local_ended__lte": period.end}
    earliest, latest = period.instants
    ended = Course.objects.filter(
        location_id__in=period.location_ids, status__in=(CourseStatus.COMPLETED, CourseStatus.DISCONTINUED),
        ended_at__gte=earliest, ended_at__lt=latest,
    ).order_by().annotate(local_ended=LocalDay("ended_at", "location__time_zone")).filter(**in_period).annotate(
        has_maintenance=Exists(Course.objects.filter(follows=OuterRef("pk"))))
    completed_initial = Q(status=CourseStatus.COMPLETED, phase=CoursePhase.INITIAL)
    counts: dict[str, dict] = {indication: {} for indication in Indication.values}
    for values in ended.values("indication").annotate(
            completed=Count("pk", filter=Q(status=CourseStatus.COMPLETED)),
            discontinued=Count("pk", filter=Q(status=CourseStatus.DISCONTINUED)),
            completed_initial=Count("pk", filter=completed_initial),
            maintenance_started=Count("pk", filter=completed_initial & Q(has_maintenance=True)),
            # The response at the end, kept on each initial course as it ended (scheduling.records.outcome).
            initial_ended=Count("pk", filter=Q(phase=CoursePhase.INITIAL)),
            judged=Count("pk", filter=Q(outcome_judged=True)),
            responded=Count("pk", filter=Q(outcome_responded=True)),
            median_to_response=Median("outcome_sessions_to_response")):
        counts[values["indication"]].update(values)
    # Started: the course's first fulfilled session is on a day of the period (``Course.started_on``).
    for values in Course.objects.filter(location_id__in=period.location_ids, started_on__gte=period.start,
                                        started_on__lte=period.end).order_by().values("indication").annotate(
            started=Count("pk")):
        counts[values["indication"]]["started"] = values["started"]
    by_indication = []
    for indication in Indication:
        values = counts.get(indication.value, {})
        row = {"indication": indication.value, "label": indication.label,
               **{name: values.get(name, 0) for name in ("started", "completed", "discontinued",
                                                         "completed_initial", "maintenance_started")}}
        row["maintenance_percent"] = percent(row["maintenance_started"], row["completed_initial"])
        by_indication.append(row)
    reasons = list(ended.filter(status=CourseStatus.DISCONTINUED).values(reason=F("discontinued_reason"))
                   .annotate(courses=Count("pk")).order_by("-courses", "reason"))
    labels = dict(Indication.choices)
    responses = [ResponseRow(indication, labels[indication], values["initial_ended"], values["judged"],
                             values["responded"], None if values["median_to_response"] is None
                             else round(values["median_to_response"], 1))
                 for indication, values in sorted(counts.items()) if values.get("initial_ended")]
    # Recording a session is what fulfils it (session_record_create, in one transaction): the period's fulfilled
    # sessions are its recorded ones, counted without reading their records.
    fulfilled = appointments_in(period).filter(status=AppointmentStatus.FULFILLED)
    sessions = fulfilled.count()
    kinds = dict(SideEffect._meta.get_field("kind").choices)
    side_effects = [{"kind": values["kind"], "label": kinds[values["kind"]], "grade": values["grade"],
                     "count": values["count"],
                     "per_100_sessions": round(100 * values["count"] / sessions, 1) if sessions else None}
                    for values in SideEffect.objects.filter(record__appointment__in=fulfilled).values("kind", "grade")
                    .annotate(count=Count("pk")).order_by("kind", "grade")]
    report = OutcomesReport(period=period, by_indication=by_indication, discontinued_reasons=reasons,
                            responses=responses, sessions=sessions, side_effects=side_effects)
    judged = sum(row.judged for row in responses)
    report.summary = {"started": sum(row["started"] for row in by_indication),
                      "completed": sum(row["completed"] for row in by_indication),
                      "response_percent": percent(sum(row.responded for row in responses), judged)}
    return report
