"""GET /api/v1/reports/{utilization,attendance,outcomes,reminders}/ and their csv/: the managers' reports.

The same selectors as the report pages (``scheduling.reports.selectors``), for managers only (a session or
a token); the query is ``start``, ``end`` (local days, both included) and ``location`` (leave it out for
every location). A report naming patients is a read of theirs in the audit trail; a CSV is an export.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, renderers, serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from api.base import StrictQueryMixin, errors
from api.fields import AsciiDateField
from patients.models import AuditAction
from patients.services import audit_report
from scheduling.reports.exports import report_csv
from scheduling.reports.selectors import (
    REPORTS,
    REPORTS_FORBIDDEN,
    report_access_allowed,
    report_patient_ids,
    report_period,
)

DESCRIPTION = ("Managers only. Local days `start` to `end` (both included; default the last four weeks up to "
               "yesterday) at `location` (default every location); docs/reports.md says how each figure is computed.")


class _Readers(BasePermission):
    message = REPORTS_FORBIDDEN

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and report_access_allowed(user=request.user))


class ReportQuerySerializer(serializers.Serializer):
    start = AsciiDateField(required=False, help_text="First local day; default: four weeks before `end`.")
    end = AsciiDateField(required=False, help_text="Last local day (included); default: yesterday.")
    location = serializers.IntegerField(required=False, min_value=1, help_text="A location's id; default: all.")


class ReportPeriod(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    location = serializers.IntegerField(source="location.pk", allow_null=True, default=None)


class ReportUsage(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["room", "device", "clinician"])
    resource_id = serializers.IntegerField(allow_null=True, help_text=(
        "The room, device or clinician; null when the report covers several locations: then a row is a "
        "location's rooms, devices or clinicians together."))
    location_id = serializers.IntegerField(allow_null=True, help_text="That location; null for one resource.")
    label = serializers.CharField(help_text="The resource's name, or the location's.")
    week = serializers.DateField(allow_null=True, help_text="Monday of the week; null for the whole period.")
    open_minutes = serializers.IntegerField()
    booked_minutes = serializers.IntegerField()
    fulfilled_minutes = serializers.IntegerField()
    booked_percent = serializers.FloatField(allow_null=True)
    fulfilled_percent = serializers.FloatField(allow_null=True)


class ReportHeatCell(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=1, max_value=7, help_text="ISO weekday, Monday 1.")
    hour = serializers.IntegerField(min_value=0, max_value=23, help_text="Hour on the location's clock.")
    sessions = serializers.IntegerField()


class UtilizationReportSerializer(serializers.Serializer):
    period = ReportPeriod()
    totals = ReportUsage(many=True)
    weekly = ReportUsage(many=True)
    heat = serializers.SerializerMethodField()

    @extend_schema_field(ReportHeatCell(many=True))
    def get_heat(self, report) -> list[dict]:
        return [{"weekday": weekday, "hour": hour, "sessions": sessions}
                for (weekday, hour), sessions in sorted(report.heat.items())]


class ReportAttendance(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    sessions = serializers.IntegerField()
    attended = serializers.IntegerField()
    noshows = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    late_cancellations = serializers.IntegerField()
    noshow_percent = serializers.FloatField(allow_null=True)
    late_cancellation_percent = serializers.FloatField(allow_null=True)


class ReportRepeatNoshow(serializers.Serializer):
    patient_id = serializers.IntegerField()
    name = serializers.CharField()
    noshows = serializers.IntegerField()


class AttendanceReportSerializer(serializers.Serializer):
    period = ReportPeriod()
    total = ReportAttendance()
    weekly = ReportAttendance(many=True)
    by_clinician = ReportAttendance(many=True)
    by_location = ReportAttendance(many=True)
    repeat_noshows = ReportRepeatNoshow(many=True)
    confirmed_by_link = serializers.IntegerField()
    confirmed = ReportAttendance()
    unconfirmed = ReportAttendance()


class ReportCourses(serializers.Serializer):
    indication = serializers.CharField()
    label = serializers.CharField()
    started = serializers.IntegerField()
    completed = serializers.IntegerField()
    discontinued = serializers.IntegerField()
    completed_initial = serializers.IntegerField()
    maintenance_started = serializers.IntegerField()
    maintenance_percent = serializers.FloatField(allow_null=True)


class ReportReason(serializers.Serializer):
    reason = serializers.CharField()
    courses = serializers.IntegerField()


class ReportResponse(serializers.Serializer):
    indication = serializers.CharField()
    label = serializers.CharField()
    ended = serializers.IntegerField()
    judged = serializers.IntegerField(help_text="Ended courses with two or more scores.")
    responded = serializers.IntegerField()
    response_percent = serializers.FloatField(allow_null=True)
    median_sessions_to_response = serializers.FloatField(allow_null=True)


class ReportSideEffect(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    grade = serializers.IntegerField()
    count = serializers.IntegerField()
    per_100_sessions = serializers.FloatField(allow_null=True)


class OutcomesReportSerializer(serializers.Serializer):
    period = ReportPeriod()
    by_indication = ReportCourses(many=True)
    discontinued_reasons = ReportReason(many=True)
    responses = ReportResponse(many=True)
    sessions = serializers.IntegerField()
    side_effects = ReportSideEffect(many=True)


class ReportMessages(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    bounced = serializers.IntegerField(help_text="Of the failed: reported back by the patient's mail server.")
    cancelled = serializers.IntegerField()
    waiting = serializers.IntegerField()


class ReportFailure(serializers.Serializer):
    reason = serializers.CharField()
    messages = serializers.IntegerField()


class RemindersReportSerializer(serializers.Serializer):
    period = ReportPeriod()
    by_kind = ReportMessages(many=True)
    totals = serializers.DictField(child=serializers.IntegerField())
    failed_by_reason = ReportFailure(many=True)
    unsubscribed = serializers.IntegerField()
    waitlist_offers = serializers.DictField(child=serializers.IntegerField(),
                                            help_text="Waitlist offers sent in the period: sent, taken, expired.")


class _ReportView(StrictQueryMixin, APIView):
    permission_classes = [_Readers]
    report_name = ""  # one of scheduling.reports.selectors.REPORTS

    def _report(self, request):
        query = ReportQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        try:
            period = report_period(user=request.user, location_id=query.validated_data.get("location"),
                                   start=query.validated_data.get("start"), end=query.validated_data.get("end"))
        except DjangoValidationError as error:
            raise exceptions.ValidationError(error.message_dict) from None
        report = REPORTS[self.report_name][1](period=period)
        return period, report


class _ReportJSON(_ReportView):
    serializer_class = serializers.Serializer

    def get(self, request):
        period, report = self._report(request)
        audit_report(actor=request.user, action=AuditAction.READ, report=self.report_name, details=period.details,
                     patient_ids=report_patient_ids(name=self.report_name, report=report))
        return Response(self.serializer_class(report).data)


class _ReportCSV(_ReportView):
    """The CSV answer whatever the Accept header says (a client may well ask for text/csv); an error's
    answer is JSON, in the one error shape."""

    renderer_classes = [renderers.JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    def get(self, request):
        period, report = self._report(request)
        audit_report(actor=request.user, action=AuditAction.EXPORT, report=self.report_name, details=period.details,
                     patient_ids=report_patient_ids(name=self.report_name, report=report))
        response = HttpResponse(report_csv(name=self.report_name, report=report),
                                content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (f'attachment; filename="{self.report_name}-{period.start:%Y%m%d}-'
                                           f'{period.end:%Y%m%d}.csv"')
        return response


def _views(name: str, serializer, summary: str):
    """The JSON and the CSV view of one report, each with its own operation in the schema."""
    responses = {**errors(400, 403)}
    csv_body = OpenApiResponse(OpenApiTypes.STR, description="CSV: table,row,week,figure,value")

    class JSONView(_ReportJSON):
        @extend_schema(operation_id=f"report_{name}", tags=["reports"], summary=summary, description=DESCRIPTION,
                       parameters=[ReportQuerySerializer], responses={200: serializer, **responses})
        def get(self, request):
            return super().get(request)

    class CSVView(_ReportCSV):
        @extend_schema(operation_id=f"report_{name}_csv", tags=["reports"], summary=f"{summary} (CSV)",
                       description=DESCRIPTION + " A download is an export in the audit trail.",
                       parameters=[ReportQuerySerializer], responses={
                           (200, "text/csv"): csv_body, **responses})
        def get(self, request):
            return super().get(request)

    JSONView.report_name, JSONView.serializer_class, CSVView.report_name = name, serializer, name
    JSONView.__name__, CSVView.__name__ = f"{name.title()}ReportView", f"{name.title()}ReportCSVView"
    return JSONView, CSVView


UtilizationReportView, UtilizationReportCSVView = _views(
    "utilization", UtilizationReportSerializer, "Booked and fulfilled minutes against open minutes; sessions by hour")
AttendanceReportView, AttendanceReportCSVView = _views(
    "attendance", AttendanceReportSerializer, "No-shows, late cancellations and confirmations")
OutcomesReportView, OutcomesReportCSVView = _views(
    "outcomes", OutcomesReportSerializer, "Courses, response at the end, side effects, maintenance uptake")
RemindersReportView, RemindersReportCSVView = _views(
    "reminders", RemindersReportSerializer,
    "Emails sent, failed, bounced, cancelled, waiting; unsubscribes; waitlist offers")
