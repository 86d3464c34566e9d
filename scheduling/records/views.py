"""Clinicians' pages: a course's progress with its chart, the dashboard of courses, and the exports.

Server-rendered Django views: the chart is inline SVG (records/chart.py), so the pages need no
JavaScript and no CDN, and they print as they look. Only clinicians and managers of the
course's location get in; the front desk gets 403.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse, reverse_lazy
from django.views.decorators.http import require_GET

from clinic.selectors import staff_role
from patients.models import AuditAction
from patients.services import audit_read, audit_record
from scheduling.models import BodySite, Course
from scheduling.records.chart import outcome_chart_svg
from scheduling.records.exports import course_sessions_csv
from scheduling.records.fhir import course_fhir_bundle
from scheduling.records.progress import (
    HDSS_RESPONSE_POINTS,
    PAIN_RESPONSE_POINTS,
    PROGRESS_ROLES,
    course_get_for_progress,
    course_list_for_dashboard,
    course_progress,
)

LOGIN_URL = reverse_lazy("admin:login")


def _course_for(request, course_id: int) -> Course:
    try:
        return course_get_for_progress(course_id=course_id, user=request.user)
    except Course.DoesNotExist:
        raise Http404("No course with this number.") from None


def _admin_url(name: str, *args) -> str | None:
    """A link into the admin when it registers the model; the page works without it."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


@require_GET
@login_required(login_url=LOGIN_URL)
def course_progress_page(request, course_id: int):
    course = _course_for(request, course_id)
    progress = course_progress(course=course)
    audit_read(actor=request.user, patient=course.patient, obj=course)
    return render(request, "scheduling/progress/course.html", {
        "progress": progress,
        "course": course,
        "chart": outcome_chart_svg(progress),
        "course_admin_url": _admin_url("admin:scheduling_course_change", course.pk),
        "patient_admin_url": _admin_url("admin:patients_patient_change", course.patient_id),
        "site_names": [course.body_site_other if site == BodySite.OTHER and course.body_site_other
                       else BodySite(site).label for site in course.body_sites],
        "response_points": HDSS_RESPONSE_POINTS if progress.outcome.measure == "hdss" else PAIN_RESPONSE_POINTS,
    })


@require_GET
@login_required(login_url=LOGIN_URL)
def dashboard_page(request):
    if staff_role(request.user) not in PROGRESS_ROLES:
        raise PermissionDenied("The clinician dashboard is for clinicians and managers.")
    courses = course_list_for_dashboard(user=request.user)
    return render(request, "scheduling/progress/dashboard.html", {
        "courses": courses,
        "flagged": sum(1 for item in courses if item.flags),
    })


def _export(request, course_id: int, build, filename: str) -> HttpResponse:
    """A course's progress as a download, recorded in the audit trail as an export."""
    course = _course_for(request, course_id)
    audit_record(actor=request.user, action=AuditAction.EXPORT, patient=course.patient, obj=course,
                 via="export")
    response = build(course_progress(course=course))
    response["Content-Disposition"] = f'attachment; filename="course-{course.pk}-{filename}"'
    return response


@require_GET
@login_required(login_url=LOGIN_URL)
def course_csv_download(request, course_id: int):
    return _export(request, course_id, lambda progress: HttpResponse(
        course_sessions_csv(progress=progress), content_type="text/csv; charset=utf-8"), "sessions.csv")


@require_GET
@login_required(login_url=LOGIN_URL)
def course_fhir_download(request, course_id: int):
    return _export(request, course_id, lambda progress: JsonResponse(
        course_fhir_bundle(progress=progress), content_type="application/fhir+json",
        json_dumps_params={"indent": 2}), "fhir.json")


# ---------------------------------------------------------------------------------------------
