"""Courses, appointments with their actions, and session records.

Every change goes through scheduling.booking.services. Booking and changing POSTs take an
``Idempotency-Key``; changes to an appointment take ``If-Match`` with its ETag (412 when stale).
"""

from __future__ import annotations

import re

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from api import filters as api_filters
from api import scope
from api.base import ScopedReadViewSet, StrictQueryMixin, audit_read_of, errors
from api.exceptions import PreconditionFailed
from api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from api.pagination import AppointmentCursor
from api.permissions import IsClinical, IsStaff, is_clinical
from api.serializers.appointments import (
    AppointmentBookSerializer,
    AppointmentCancelSerializer,
    AppointmentClinicalSerializer,
    AppointmentConfirmSerializer,
    AppointmentMoveSerializer,
    AppointmentRescheduleSerializer,
    AppointmentSerializer,
    NotificationSerializer,
    appointment_etag,
)
from api.serializers.calendar import CalendarQuerySerializer, CalendarSerializer
from api.serializers.courses import (
    CourseCreateSerializer,
    CourseDiscontinueSerializer,
    CourseMaintenanceSerializer,
    CourseSerializer,
)
from api.serializers.engine import (
    AvailabilityQuerySerializer,
    AvailabilitySerializer,
    CourseBookSerializer,
    CourseDoesNotFitSerializer,
    CoursePlanSerializer,
)
from api.serializers.records import AppointmentCompleteSerializer, SessionRecordSerializer
from scheduling.booking.courses import (
    CourseDoesNotFit,
    course_book,
    course_complete,
    course_create,
    course_discontinue,
    course_reschedule_from,
    course_start_maintenance,
)
from scheduling.booking.selectors import slot_list_available
from scheduling.booking.services import (
    appointment_book,
    appointment_cancel,
    appointment_confirm,
    appointment_mark_arrived,
    appointment_mark_noshow,
    appointment_reschedule,
)
from scheduling.desk.calendar import calendar_build
from scheduling.models import Appointment
from scheduling.records.services import session_record_create

IF_MATCH_PARAMETER = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="The appointment's ETag as last read; the change is refused with 412 if someone changed it since.",
)
ETAG_HEADER = OpenApiResponse(AppointmentClinicalSerializer, description="The appointment; its ETag in the header.")
_ETAG = re.compile(r'^(?:W/)?"appointment-(\d+)-v(\d+)"$')


class CourseViewSet(mixins.CreateModelMixin, ScopedReadViewSet):
    """Courses of sessions at the acting user's locations. Anyone on staff plans one; clinicians and
    managers complete, discontinue or follow it with maintenance."""

    serializer_class = CourseSerializer
    scope_name = "courses"
    filterset_class = api_filters.CourseFilter
    ordering = ["-created_at", "-id"]
    ordering_fields = ["id", "created_at", "status"]

    @extend_schema(request=CourseCreateSerializer, responses={201: CourseSerializer, **errors(400, 403)})
    def create(self, request):
        course = course_create(created_by=request.user, **self.validated(CourseCreateSerializer))
        return self.answer(course, status=201)

    @extend_schema(request=CourseBookSerializer, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: CoursePlanSerializer,
                              200: OpenApiResponse(CoursePlanSerializer, description="The plan of a preview."),
                              409: CourseDoesNotFitSerializer, **errors(400, 403, 404, 422)})
    @action(detail=True, methods=["post"])
    @idempotent
    def book(self, request, pk=None):
        """Book every remaining session of the course at its cadence, all or none (201).

        ``preview`` answers the plan (200) without booking. When the course does not fit, nothing is
        booked and 409 carries the best partial plan with the reason of each session left out.
        """
        course = self.get_object()
        data = self.validated(CourseBookSerializer)
        preview = data.pop("preview")
        try:
            plan = course_book(course=course, booked_by=request.user, preview=preview, **data)
        except CourseDoesNotFit as error:
            return plan_does_not_fit(error)
        return Response(plan_data(plan), status=200 if preview else 201)

    @extend_schema(request=None, responses={200: CourseSerializer, **errors(400, 403, 404)})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        course = self.get_object()
        return self.answer(course_complete(course=course, completed_by=request.user))

    @extend_schema(request=CourseDiscontinueSerializer, responses={200: CourseSerializer, **errors(400, 403, 404)})
    @action(detail=True, methods=["post"])
    def discontinue(self, request, pk=None):
        """Stop a course early; its booked sessions are cancelled by the clinic with the reason."""
        course = self.get_object()
        data = self.validated(CourseDiscontinueSerializer)
        return self.answer(course_discontinue(course=course, discontinued_by=request.user,
                                              reason=data["reason"]))

    @extend_schema(request=CourseMaintenanceSerializer,
                   responses={201: CourseSerializer, **errors(400, 403, 404)})
    @action(detail=True, methods=["post"], url_path="start-maintenance")
    def start_maintenance(self, request, pk=None):
        """Plan maintenance sessions every 1-4 weeks after a completed initial course."""
        course = self.get_object()
        data = self.validated(CourseMaintenanceSerializer)
        maintenance = course_start_maintenance(course=course, created_by=request.user, **data)
        return self.answer(maintenance, status=201)


def plan_data(plan) -> dict:
    return CoursePlanSerializer(plan, context={"location": plan.course.location}).data


def plan_does_not_fit(error) -> Response:
    """409: nothing was booked or moved; the body carries the best partial plan and its reasons."""
    body = {"detail": " ".join(error.messages), "code": "course_does_not_fit", "errors": {},
            "plan": plan_data(error.plan)}
    return Response(body, status=409)


class AppointmentViewSet(mixins.CreateModelMixin, ScopedReadViewSet):
    """Appointments at the acting user's locations, a cursor page at a time in time order.

    ``start``/``end`` list those overlapping [start, end): with ``clinician``, ``room``, ``device`` or
    ``patient`` that is one calendar. Each carries UTC times, the location's local times and zone, and
    its ETag. Clinicians and managers also get the session record; the front desk never does.
    """

    serializer_class = AppointmentSerializer
    clinical_serializer_class = AppointmentClinicalSerializer
    filterset_class = api_filters.AppointmentFilter
    filter_backends = ScopedReadViewSet.filter_backends[:1]
    pagination_class = AppointmentCursor
    ordering = ["starts_at", "id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Appointment.objects.none()
        return scope.appointments_clinical(self.request) if is_clinical(self.request) else scope.appointments(
            self.request)

    def retrieve(self, request, *args, **kwargs):
        appointment = self.get_object()
        audit_read_of(request, appointment)
        return self.answer(appointment)

    def answer(self, instance, *, status: int = 200, headers: dict | None = None) -> Response:
        response = super().answer(instance, status=status, headers=headers)
        response["ETag"] = response.data["etag"]
        return response

    def expected_version(self, appointment: Appointment) -> int | None:
        """The version If-Match names; None when absent or ``*``. Another appointment's tag is stale."""
        header = self.request.headers.get("If-Match")
        if header is None or header.strip() == "*":
            return None
        for tag in header.split(","):
            match = _ETAG.match(tag.strip())
            if match and int(match.group(1)) == appointment.pk:
                return int(match.group(2))
        raise PreconditionFailed("If-Match does not name a version of this appointment; read it again.")

    @extend_schema(request=AppointmentBookSerializer, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: ETAG_HEADER, **errors(400, 403, 409, 422)})
    @idempotent
    def create(self, request):
        """Book one session of a course with a clinician, room and device at the course's location."""
        data = self.validated(AppointmentBookSerializer)
        appointment = appointment_book(booked_by=request.user, **data)
        return self.answer_as_returned(appointment, status=201)

    def _change(self, request, change, serializer_class=None, *, read_again: bool = True):
        """``read_again=False`` answers the row the service returns: the booking services read it under
        their lock, only at a location the user sees (``seen_by``; another is not found, as here), with
        every row its answer names; so the view does not read it first."""
        if read_again:
            appointment = self.get_object()
        else:
            try:
                appointment = Appointment(pk=int(self.kwargs["pk"]))
            except ValueError:
                raise Http404 from None
        data = self.validated(serializer_class) if serializer_class is not None else {}
        expected = self.expected_version(appointment)
        changed = change(appointment, expected, data)
        return self.answer(changed) if read_again else self.answer_as_returned(changed)

    def answer_as_returned(self, appointment: Appointment, *, status: int = 200) -> Response:
        """The appointment a booking service returned, which holds every row its answer names (the
        course's patient and location, the clinician with the user, room, device), not read again."""
        response = Response(self.get_serializer_class()(appointment, context=self.get_serializer_context()).data,
                            status=status)
        response["ETag"] = response.data["etag"]
        return response

    @extend_schema(request=AppointmentConfirmSerializer, parameters=[IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER],
                   responses={200: ETAG_HEADER, **errors(400, 403, 404, 412, 422)})
    @action(detail=True, methods=["post"])
    @idempotent
    def confirm(self, request, pk=None):
        """Record that the patient confirmed they will come (not a status; the version stays)."""
        return self._change(request, lambda a, v, d: appointment_confirm(
            appointment=a, via=d["via"], confirmed_by=request.user, expected_version=v), AppointmentConfirmSerializer,
            read_again=False)

    @extend_schema(request=None, parameters=[IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER],
                   responses={200: ETAG_HEADER, **errors(400, 403, 404, 412, 422)})
    @action(detail=True, methods=["post"])
    @idempotent
    def arrive(self, request, pk=None):
        """The patient is here (on the day of the session)."""
        return self._change(request, lambda a, v, d: appointment_mark_arrived(
            appointment=a, marked_by=request.user, expected_version=v), read_again=False)

    @extend_schema(request=None, parameters=[IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER],
                   responses={200: ETAG_HEADER, **errors(400, 403, 404, 412, 422)})
    @action(detail=True, methods=["post"])
    @idempotent
    def noshow(self, request, pk=None):
        """The patient did not come (once the start time has passed)."""
        return self._change(request, lambda a, v, d: appointment_mark_noshow(
            appointment=a, marked_by=request.user, expected_version=v), read_again=False)

    @extend_schema(request=AppointmentCancelSerializer, parameters=[IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER],
                   responses={200: ETAG_HEADER, **errors(400, 403, 404, 412, 422)})
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request, pk=None):
        """Cancel, saying who cancels (patient or clinic) and why; the time is free again."""
        return self._change(request, lambda a, v, d: appointment_cancel(
            appointment=a, recorded_by=request.user, by=d["by"], reason=d["reason"], expected_version=v),
            AppointmentCancelSerializer, read_again=False)

    @extend_schema(request=AppointmentRescheduleSerializer,
                   parameters=[IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER],
                   responses={200: CoursePlanSerializer, 409: CourseDoesNotFitSerializer,
                              **errors(400, 403, 404, 412, 422)})
    @action(detail=True, methods=["post"])
    @idempotent
    def reschedule(self, request, pk=None):
        """Move a session (or make up a missed one); the course's later sessions follow at its cadence.

        All or nothing: when the sessions do not fit, nothing moves and 409 carries the best plan.
        With ``preview`` the plan is answered and nothing changes.
        """
        appointment = self.get_object()
        data = self.validated(AppointmentRescheduleSerializer)
        try:
            plan = course_reschedule_from(
                appointment=appointment, rescheduled_by=request.user, starts_at=data.get("starts_at"),
                clinician=data.get("clinician"), room=data.get("room"), device=data.get("device"),
                preview=data["preview"], expected_version=self.expected_version(appointment))
        except CourseDoesNotFit as error:
            return plan_does_not_fit(error)
        response = Response(plan_data(plan))
        moved = plan.sessions[0].appointment if plan.booked and plan.sessions else None
        if moved is not None:
            response["ETag"] = appointment_etag(moved)
        return response

    @extend_schema(request=AppointmentMoveSerializer, parameters=[IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER],
                   responses={200: ETAG_HEADER, **errors(400, 403, 404, 409, 412, 422)})
    @action(detail=True, methods=["post"])
    @idempotent
    def move(self, request, pk=None):
        """Move this one booked session to another time, length (25-45 minutes), clinician, room or
        device, under every booking rule; the course's other sessions stay (the calendar's drag and drop)."""
        return self._change(request, lambda a, v, d: appointment_reschedule(
            appointment=a, rescheduled_by=request.user, expected_version=v, **d), AppointmentMoveSerializer,
            read_again=False)

    @extend_schema(request=AppointmentCompleteSerializer, parameters=[IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER],
                   responses={200: ETAG_HEADER, **errors(400, 403, 404, 409, 412, 422)})
    @action(detail=True, methods=["post"])
    @idempotent
    def complete(self, request, pk=None):
        """Record the session (clinicians and managers): the appointment becomes fulfilled."""
        return self._change(request, lambda a, v, d: session_record_create(
            appointment=a, recorded_by=request.user, expected_version=v, **d).appointment,
            AppointmentCompleteSerializer)


class SessionRecordViewSet(ScopedReadViewSet):
    """What was done in each session: clinicians and managers only; the front desk gets 403."""

    serializer_class = SessionRecordSerializer
    permission_classes = [IsClinical]
    scope_name = "session_records"
    filterset_class = api_filters.SessionRecordFilter
    ordering = ["-created_at", "-id"]
    ordering_fields = ["id", "created_at"]


class AvailabilityView(StrictQueryMixin, APIView):
    """Free start times at a location for a session of ``minutes``, on the local days [start, end).

    Each slot names a suggested clinician, room and device and every one free for the whole session;
    ``clinician``, ``room`` or ``device`` narrow the search, ``patient`` keeps the patient's sessions clear.
    """

    permission_classes = [IsStaff]

    @extend_schema(parameters=[AvailabilityQuerySerializer],
                   responses={200: AvailabilitySerializer, **errors(400, 403)})
    def get(self, request):
        query = AvailabilityQuerySerializer(data=request.query_params.dict(),
                                            context={"scope": scope.Scope(request)})
        query.is_valid(raise_exception=True)
        wanted = query.validated_data
        location = wanted["location"]
        slots = slot_list_available(
            location=location, start=wanted["start"], end=wanted["end"], minutes=wanted["minutes"],
            clinician=wanted.get("clinician"), room=wanted.get("room"), device=wanted.get("device"),
            patient=wanted.get("patient"),
        )
        body = {"location": location.pk, "time_zone": location.time_zone, "minutes": wanted["minutes"],
                "slots": slots}
        return Response(AvailabilitySerializer(body, context={"location": location}).data)


class CalendarView(StrictQueryMixin, APIView):
    """The front desk's calendar of one location: the local days [start, end) with a column per room,
    clinician or device, each session at the location's wall-clock time with what can be done to it
    now, and the times closed to booking. Cancelled sessions are left out. Its cost does not grow with
    the number of sessions."""

    permission_classes = [IsStaff]

    @extend_schema(parameters=[CalendarQuerySerializer], responses={200: CalendarSerializer, **errors(400, 403)})
    def get(self, request):
        query = CalendarQuerySerializer(data=request.query_params.dict(), context={"scope": scope.Scope(request)})
        query.is_valid(raise_exception=True)
        calendar = calendar_build(user=request.user, now=timezone.now(), **query.validated_data)
        return Response(CalendarSerializer(calendar).data)


class NotificationViewSet(ScopedReadViewSet):
    """Messages to the patients of the acting user's locations (read-only): confirmations, reminders,
    follow-ups and recalls, with their state. Nothing clinical is in them."""

    serializer_class = NotificationSerializer
    scope_name = "notifications"
    filterset_class = api_filters.NotificationFilter
    ordering = ["-due_at", "-id"]
    ordering_fields = ["id", "due_at"]
