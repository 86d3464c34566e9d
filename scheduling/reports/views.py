"""The managers' report pages and their CSV downloads, under /clinician/reports/ beside the dashboard.

Server-rendered: the charts are inline SVG (``scheduling.reports.charts``) with their table underneath,
so the pages need no JavaScript and print as they look. Managers (and superusers) only: everyone else
gets 403, before anything is read. The second sign-in step guards /clinician/ as it guards the admin.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET

from clinic.selectors import locations_visible_to
from patients.models import AuditAction
from patients.services import audit_report
from scheduling.reports.charts import WEEKDAYS, Series, bar_chart_svg, heat_map_svg
from scheduling.reports.exports import report_csv
from scheduling.reports.selectors import (
    REPORTS,
    ReportPeriod,
    report_access_check,
    report_patient_ids,
    report_period,
)

LOGIN_URL = reverse_lazy("admin:login")


class PeriodForm(forms.Form):
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    location = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Location")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["location"].choices = [("", "Every location"), *(
            (location.pk, location.name) for location in locations_visible_to(user=user).order_by("name"))]

    def period(self) -> ReportPeriod | None:
        """The period asked for, or None with the errors on the form."""
        if not self.is_valid():
            return None
        try:
            return report_period(user=self.user, start=self.cleaned_data["start"], end=self.cleaned_data["end"],
                                 location_id=self.cleaned_data["location"])
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
            return None


def _report(request, name: str):
    """The user checked, the report named, and the period asked for (None when the form has errors)."""
    report_access_check(user=request.user)
    if name not in REPORTS:
        raise Http404("No such report.")
    form = PeriodForm(request.GET, user=request.user)
    return form, form.period()


SUMMARY_LABELS = {
    "room_open_minutes": "Rooms' open minutes", "room_booked_minutes": "Rooms' booked minutes",
    "room_fulfilled_minutes": "Rooms' fulfilled minutes", "room_booked_percent": "Rooms booked (%)",
    "room_fulfilled_percent": "Rooms fulfilled (%)", "sessions": "Sessions", "noshow_percent": "No-show rate (%)",
    "late_cancellation_percent": "Late cancellation rate (%)", "started": "Courses started",
    "completed": "Courses completed", "response_percent": "Response at the end (%)", "sent": "Emails sent",
    "failed": "Emails failed", "bounced": "Emails bounced", "cancelled": "Emails cancelled",
    "waiting": "Emails waiting",
    "unsubscribed": "Patients who stopped emails", "failed_percent": "Emails failed (% of sent and failed)",
}


def _charts(name: str, report) -> list:
    if name == "utilization":
        weeks = sorted({row.week for row in report.weekly})
        rooms = {week: [0, 0, 0] for week in weeks}
        for row in report.weekly:
            if row.kind == "room":
                rooms[row.week][0] += row.open_minutes
                rooms[row.week][1] += row.booked_minutes
                rooms[row.week][2] += row.fulfilled_minutes
        share = lambda part, whole: round(100 * part / whole, 1) if whole else None  # noqa: E731
        return [
            bar_chart_svg(title="Rooms: booked and fulfilled share of open time, by week", ident="chart-rooms",
                          categories=[f"{week:%d %b}" for week in weeks], top=100, series=[
                              Series("Booked", [share(rooms[week][1], rooms[week][0]) for week in weeks]),
                              Series("Fulfilled", [share(rooms[week][2], rooms[week][0]) for week in weeks])]),
            heat_map_svg(title="Booked sessions by weekday and hour", cells=report.heat, ident="chart-heat"),
        ]
    if name == "attendance":
        return [bar_chart_svg(title="No-shows and late cancellations, by week", ident="chart-attendance",
                              categories=[row.label for row in report.weekly], series=[
                                  Series("No-show rate", [row.noshow_percent for row in report.weekly]),
                                  Series("Late cancellation rate",
                                         [row.late_cancellation_percent for row in report.weekly])])]
    if name == "outcomes":
        return [bar_chart_svg(title="Response at the course's end, by indication", ident="chart-response", top=100,
                              categories=[row.label for row in report.responses],
                              series=[Series("Responded", [row.response_percent for row in report.responses])])]
    return [bar_chart_svg(title="Messages by kind", ident="chart-messages", unit="",
                          categories=[row["label"] for row in report.by_kind], series=[
                              Series("Sent", [row["sent"] for row in report.by_kind]),
                              Series("Failed", [row["failed"] for row in report.by_kind]),
                              Series("Bounced", [row["bounced"] for row in report.by_kind]),
                              Series("Cancelled", [row["cancelled"] for row in report.by_kind])])]


@require_GET
@login_required(login_url=LOGIN_URL)
def reports_index(request):
    report_access_check(user=request.user)
    return redirect("reports:report", name="utilization")


@require_GET
@login_required(login_url=LOGIN_URL)
def report_page(request, name: str):
    try:
        form, period = _report(request, name)
    except PermissionDenied:
        return render(request, "scheduling/reports/refused.html", status=403)
    title, build = REPORTS[name]
    context = {"form": form, "name": name, "title": title, "reports": [(key, label) for key, (label, _) in
                                                                        REPORTS.items()],
               "weekdays": WEEKDAYS, "query": request.GET.urlencode()}
    if period is None:
        return render(request, "scheduling/reports/report.html", context, status=400)
    report = build(period=period)
    audit_report(actor=request.user, action=AuditAction.READ, report=name, details=period.details,
                 patient_ids=report_patient_ids(name=name, report=report))
    previous = build(period=period.previous)
    context.update(period=period, report=report, previous=previous.period,
                   comparison=[(SUMMARY_LABELS[key], report.summary[key], previous.summary[key])
                               for key in report.summary],
                   charts=_charts(name, report))
    if name == "utilization":
        hours = sorted({hour for _, hour in report.heat}) or [8]
        hours = list(range(hours[0], hours[-1] + 1))
        context.update(kinds=[("room", "Rooms"), ("device", "Devices"), ("clinician", "Clinicians")],
                       heat_hours=hours, heat_rows=[(day, [report.heat.get((number, hour), 0) for hour in hours])
                                                    for number, day in enumerate(WEEKDAYS, start=1)])
    return render(request, "scheduling/reports/report.html", context)


@require_GET
@login_required(login_url=LOGIN_URL)
def report_csv_download(request, name: str):
    form, period = _report(request, name)
    if period is None:
        return HttpResponse("\n".join(f"{field or 'period'}: {' '.join(errors)}" for field, errors in
                                      form.errors.items()), status=400, content_type="text/plain; charset=utf-8")
    report = REPORTS[name][1](period=period)
    audit_report(actor=request.user, action=AuditAction.EXPORT, report=name,
                 patient_ids=report_patient_ids(name=name, report=report), details=period.details)
    response = HttpResponse(report_csv(name=name, report=report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (f'attachment; filename="{name}-{period.start:%Y%m%d}-'
                                       f'{period.end:%Y%m%d}.csv"')
    return response
