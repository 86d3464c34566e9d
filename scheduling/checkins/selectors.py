"""Reads of check-ins: who sees them, whether an email still goes, and the answers a course's progress shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import QuerySet

from clinic.display import location_time
from clinic.selectors import at_visible_locations
from scheduling.booking.selectors import course_annotate_maintenance
from scheduling.checkins.models import FLAGGED_SKIN_REACTIONS, CheckIn, CheckInPurpose
from scheduling.models import Appointment, AppointmentStatus, Course, Notification, SessionRecord


def check_ins_visible_to(*, user) -> QuerySet[CheckIn]:
    """The check-ins of courses at the user's locations; a manager sees every one."""
    return at_visible_locations(CheckIn.objects, user=user, field="course__location_id")


def check_in_send_refusal(*, notification: Notification, now: datetime) -> str:
    """Why a check-in's email must not go out any more, or "" when it goes: answered already; a baseline
    once the course has a score, is closed or has no session booked ahead; a periodic one once maintenance is booked."""
    check_in = CheckIn.objects.filter(notification=notification).select_related("course").first()
    if check_in is None:
        return "Not sent: the check-in is gone."
    if check_in.is_answered:
        return "Not sent: the patient has already answered."
    course = check_in.course
    if check_in.purpose == CheckInPurpose.BASELINE:
        if not course.is_open:
            return "Not sent: the course is closed."
        if not Appointment.objects.filter(course=course, status=AppointmentStatus.BOOKED, starts_at__gt=now).exists():
            return "Not sent: no session of the course is booked ahead."
        if SessionRecord.objects.filter(appointment__course=course).exclude(hdss=None, pain_nprs=None).exists():
            return "Not sent: a score was recorded in a session."
    if check_in.purpose == CheckInPurpose.PERIODIC:
        waiting = course_annotate_maintenance(courses=Course.objects.filter(pk=course.pk)).get().waits_for_maintenance
        if not waiting:
            return "Not sent: a maintenance session is booked."
    return ""


@dataclass(frozen=True)
class ReportedPoint:
    """A patient's answer to a check-in, as the progress page, the exports and the API show it."""

    check_in_id: int
    purpose: str
    purpose_label: str
    date: date  # the location's day of the answer
    answered_at: datetime  # in the location's time zone
    answered_text: str  # as every screen shows it: 'Tue 15 Dec 2026 14:30 EST'
    value: Decimal
    skin_reaction: str
    skin_reaction_label: str

    @property
    def raises_flag(self) -> bool:
        return self.skin_reaction in FLAGGED_SKIN_REACTIONS


def reported_points_by_course(*, courses: list[Course]) -> dict[int, tuple[ReportedPoint, ...]]:
    """The answered check-ins of each course, oldest first, in one query."""
    found: dict[int, list[ReportedPoint]] = {course.pk: [] for course in courses}
    zones = {course.pk: course.location for course in courses}
    for check_in in (CheckIn.objects.filter(course__in=[course.pk for course in courses], answered_at__isnull=False)
                     .order_by("answered_at", "pk")):
        local = zones[check_in.course_id].local(check_in.answered_at)
        found[check_in.course_id].append(ReportedPoint(
            check_in_id=check_in.pk, purpose=check_in.purpose, purpose_label=check_in.get_purpose_display(),
            date=local.date(), answered_at=local, value=Decimal(check_in.score),
            answered_text=location_time(zones[check_in.course_id], check_in.answered_at),
            skin_reaction=check_in.skin_reaction,
            skin_reaction_label=check_in.get_skin_reaction_display() if check_in.skin_reaction else ""))
    return {course_id: tuple(points) for course_id, points in found.items()}


def response_scores(progress) -> tuple[Decimal | None, Decimal | None]:
    """The (baseline, latest) scores the "response" rule compares (docs/clinicians.md): the baseline is the
    earliest score of the course, the patient's baseline check-in when it was answered before the first
    session with a recorded score began, else that recorded score (``scheduling.reports.outcomes`` counts
    the same); the latest is the clinician's latest recorded
    score (or the baseline answer alone, when nothing is recorded yet). Answers after the course show how
    long the effect lasts and drive maintenance, not the course's response."""
    outcome = progress.outcome
    scored = [row for row in progress.recorded_sessions
              if (row.hdss if outcome.measure == "hdss" else row.pain_nprs) is not None]
    before = [point for point in progress.reported if point.purpose == CheckInPurpose.BASELINE
              and (not scored or point.answered_at < scored[0].starts_at)]
    baseline = before[0].value if before else outcome.baseline
    latest = outcome.latest if outcome.points else baseline
    return baseline, latest
