"""GET /api/v1/courses/{id}/progress/: the figures and flags of the clinician's progress page."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from api.base import audit_read_of
from clinic.selectors import staff_role
from scheduling.checkins.models import CheckInPurpose, SkinReaction
from scheduling.models import AppointmentStatus, Course, CoursePhase, CourseStatus, Indication
from scheduling.records.progress import (
    PROGRESS_FORBIDDEN,
    PROGRESS_ROLES,
    FlagKind,
    course_get_for_progress,
    course_progress,
)


class _Flag(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(FlagKind.LABELS))
    label = serializers.CharField()
    message = serializers.CharField()


class _SiteCurrent(serializers.Serializer):
    site = serializers.CharField()
    label = serializers.CharField()
    current_ma = serializers.DecimalField(max_digits=4, decimal_places=1)


class _SideEffect(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    grade = serializers.IntegerField(min_value=1, max_value=3)


class _Session(serializers.Serializer):
    appointment_id = serializers.IntegerField()
    number = serializers.IntegerField(allow_null=True, help_text="1, 2, ... over the fulfilled sessions.")
    date = serializers.DateField(help_text="The day at the location.")
    starts_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=AppointmentStatus.choices)
    clinician = serializers.CharField()
    sites = _SiteCurrent(many=True)
    current_ma = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True,
                                          help_text="The highest current of the session's sites.")
    minutes_of_current = serializers.IntegerField(allow_null=True)
    waveform = serializers.CharField(help_text="Empty until the session is recorded.")
    polarity_reversed = serializers.BooleanField()
    medium = serializers.CharField()
    dose_ma_min = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)
    cumulative_dose_ma_min = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True)
    hdss = serializers.IntegerField(allow_null=True)
    pain_nprs = serializers.IntegerField(allow_null=True)
    sweat_mg_min = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True)
    sweat_site = serializers.CharField()
    side_effects = _SideEffect(many=True)
    note = serializers.CharField()
    days_since_previous = serializers.IntegerField(allow_null=True)


class _Point(serializers.Serializer):
    number = serializers.IntegerField()
    date = serializers.DateField()
    value = serializers.DecimalField(max_digits=6, decimal_places=1)


class _Series(serializers.Serializer):
    measure = serializers.ChoiceField(choices=["hdss", "pain_nprs", "sweat_mg_min"])
    label = serializers.CharField()
    baseline = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True)
    latest = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True)
    change = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True,
                                      help_text="Latest minus baseline; negative is better.")
    points = _Point(many=True)


class _Reported(serializers.Serializer):
    check_in_id = serializers.IntegerField()
    purpose = serializers.ChoiceField(choices=CheckInPurpose.choices)
    date = serializers.DateField(help_text="The day at the location.")
    answered_at = serializers.DateTimeField()
    value = serializers.DecimalField(max_digits=3, decimal_places=0,
                                     help_text="HDSS 1-4 (hyperhidrosis) or pain 0-10 (NPRS), as the course measures.")
    skin_reaction = serializers.ChoiceField(choices=[("", "Not said"), *SkinReaction.choices])
    raises_flag = serializers.BooleanField(help_text="A reported blister or burn: the side-effect flag.")


class _Gap(serializers.Serializer):
    after = serializers.DateField()
    before = serializers.DateField()
    days = serializers.IntegerField()


class CourseProgressSerializer(serializers.Serializer):
    course = serializers.IntegerField(source="course.pk")
    patient = serializers.IntegerField(source="course.patient_id")
    indication = serializers.ChoiceField(source="course.indication", choices=Indication.choices)
    phase = serializers.ChoiceField(source="course.phase", choices=CoursePhase.choices)
    status = serializers.ChoiceField(source="course.status", choices=CourseStatus.choices)
    as_of = serializers.DateField()
    planned = serializers.IntegerField()
    booked = serializers.IntegerField(help_text="Booked or arrived: still to be done.")
    fulfilled = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    noshow = serializers.IntegerField()
    unbooked = serializers.IntegerField(help_text="Planned sessions not booked yet.")
    planned_gap_days = serializers.IntegerField(help_text="The longest gap the cadence plans.")
    long_gaps = _Gap(many=True, help_text="Gaps between fulfilled sessions longer than planned.")
    cumulative_dose_ma_min = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True)
    maintenance_due_on = serializers.DateField(allow_null=True)
    outcome = _Series()
    sweat = _Series(allow_null=True)
    flags = _Flag(many=True)
    sessions = _Session(many=True)
    reported = _Reported(many=True, help_text="The patient's check-in answers, kept apart from the scores "
                                              "clinicians record in sessions.")


class _ProgressReaders(BasePermission):
    message = PROGRESS_FORBIDDEN

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and staff_role(request.user) in PROGRESS_ROLES)


class CourseProgressView(APIView):
    """A course's progress: counts, sessions, outcome series and the flags that need a clinician."""

    permission_classes = [_ProgressReaders]

    @extend_schema(
        operation_id="course_progress",
        tags=["courses"],
        responses={
            200: CourseProgressSerializer,
            403: OpenApiResponse(description=PROGRESS_FORBIDDEN),
            404: OpenApiResponse(description="No course with this id."),
        },
    )
    def get(self, request, course_id: int):
        try:
            course = course_get_for_progress(course_id=course_id, user=request.user)
        except Course.DoesNotExist:
            raise NotFound("No course with this id.") from None
        audit_read_of(request, course)
        return Response(CourseProgressSerializer(course_progress(course=course)).data)
