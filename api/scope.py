"""The rows an acting user may see: everything is scoped to the locations they work at.

Each function takes the request and answers a queryset; none runs a query until it is used, so
a list costs the same number of queries whatever the number of rows.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from api.permissions import role_of
from clinic.models import Clinician, Closure, Device, Location, OpeningHours, Room, StaffRole, WorkingHours
from clinic.selectors import location_list_for
from patients.models import Patient, Screening
from scheduling.models import Appointment, Course, Notification, SessionRecord, SessionSite, SideEffect


def locations(request) -> QuerySet[Location]:
    return location_list_for(request.user)


def location_ids(request) -> list[int]:
    """The ids of the user's locations, read once per request. Filtering on these constants,
    PostgreSQL plans a calendar week's join in a third of the time it takes with a subquery."""
    found = getattr(request, "_ionto_location_ids", None)
    if found is None:
        found = request._ionto_location_ids = list(locations(request).values_list("pk", flat=True))
    return found


def _at_my_locations(rows: QuerySet, request, field: str = "location_id") -> QuerySet:
    """``rows`` whose ``field`` is one of the user's locations; a manager's are all of them."""
    rows = rows.all()
    return rows if _everywhere(request) else rows.filter(**{f"{field}__in": location_ids(request)})


def _everywhere(request) -> bool:
    return role_of(request) == StaffRole.MANAGER


def rooms(request) -> QuerySet[Room]:
    return _at_my_locations(Room.objects, request).select_related("location")


def devices(request) -> QuerySet[Device]:
    return _at_my_locations(Device.objects, request).select_related("location")


def clinicians(request) -> QuerySet[Clinician]:
    works_here = Clinician.locations.through.objects.filter(staff_id=OuterRef("pk"),
                                                            location_id__in=location_ids(request))
    return (
        Clinician.objects.filter(Exists(works_here), is_active=True)
        .select_related("user")
        .prefetch_related(Prefetch("locations", queryset=Location.objects.only("id", "name")))
    )


def opening_hours(request) -> QuerySet[OpeningHours]:
    return _at_my_locations(OpeningHours.objects, request)


def working_hours(request) -> QuerySet[WorkingHours]:
    return _at_my_locations(WorkingHours.objects, request)


def closures(request) -> QuerySet[Closure]:
    return _at_my_locations(Closure.objects, request)


def patients(request, *, include_archived: bool = False) -> QuerySet[Patient]:
    """Patients whose preferred location is one of the user's, or who have a course at one."""
    rows = Patient.objects.all()
    if not include_archived:
        rows = rows.filter(archived_at__isnull=True)
    if _everywhere(request):
        return rows
    mine = location_ids(request)
    has_course_here = Course.objects.filter(patient_id=OuterRef("pk"), location_id__in=mine)
    return rows.filter(Exists(has_course_here) | Q(preferred_location_id__in=mine))


def screenings(request) -> QuerySet[Screening]:
    return Screening.objects.filter(patient__in=patients(request, include_archived=True))


def courses(request) -> QuerySet[Course]:
    return _at_my_locations(Course.objects, request).select_related("location")


def appointments(request) -> QuerySet[Appointment]:
    """Appointments with the related rows their answer names, each loaded with only the columns it shows:
    whole patients, users and locations for a calendar week cost more than the query itself."""
    return (
        _at_my_locations(Appointment.objects, request)
        .select_related("location", "patient", "clinician__user", "room", "device")
        .only("course_id", "patient_id", "location_id", "clinician_id", "room_id", "device_id", "starts_at", "ends_at",
              "local_date", "status", "cancelled_by", "cancellation_reason", "confirmed_at", "confirmed_via",
              "version", "location__time_zone", "patient__first_name", "patient__last_name",
              "clinician__user__first_name", "clinician__user__last_name", "clinician__user__username",
              "room__name", "device__model", "device__serial_number")
    )


def session_records_in_full() -> QuerySet[SessionRecord]:
    """Session records with their sites and side effects, in the order they are shown."""
    return SessionRecord.objects.prefetch_related(
        Prefetch("sites", queryset=SessionSite.objects.order_by("site")),
        Prefetch("side_effects", queryset=SideEffect.objects.order_by("-grade", "kind")),
    )


def appointments_clinical(request) -> QuerySet[Appointment]:
    return appointments(request).prefetch_related(Prefetch("session_record", queryset=session_records_in_full()))


def session_records(request) -> QuerySet[SessionRecord]:
    return _at_my_locations(session_records_in_full(), request, "appointment__location_id").select_related(
        "appointment")


def notifications(request) -> QuerySet[Notification]:
    return _at_my_locations(Notification.objects, request, "course__location_id")


class Scope:
    """Lazy querysets for ScopedPrimaryKeyField, bound to one request."""

    def __init__(self, request):
        self.request = request

    def __getitem__(self, name: str):
        rows_of = SCOPES[name]
        return lambda: rows_of(self.request)


SCOPES = {
    "locations": locations, "rooms": rooms, "devices": devices, "clinicians": clinicians,
    "patients": patients, "courses": courses,
}
