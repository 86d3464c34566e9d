"""Query parameters of the list endpoints; a value of the wrong kind answers 400, never 500."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django import forms
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from api.fields import ID_MAX, aware_instant
from patients.selectors import patient_matching
from scheduling.models import (
    SESSION_MINUTES_MAX,
    Appointment,
    AppointmentStatus,
    Course,
    CourseStatus,
    NotificationKind,
    NotificationStatus,
)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": ID_MAX})
class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number from 1 up."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(*args, **kwargs)


class AwareIsoDateTimeField(forms.DateTimeField):
    """An ISO 8601 time with its offset, read like every other time the API takes (``aware_instant``)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return aware_instant(str(value))
        except ValueError as error:
            raise forms.ValidationError(str(error), code="invalid") from None


class StrictBooleanField(forms.Field):
    """``true`` or ``false``, nothing else (Django's NullBooleanField reads "abc" as no filter)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if value in ("true", "false"):
            return value == "true"
        raise forms.ValidationError("Give true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


@extend_schema_field(OpenApiTypes.DATETIME)
class AwareDateTimeFilter(django_filters.Filter):
    field_class = AwareIsoDateTimeField


class LocationFilter(django_filters.FilterSet):
    """Rows of one location (among those the user may see)."""

    location = IdFilter(field_name="location_id")


class ClinicianFilter(django_filters.FilterSet):
    location = IdFilter(field_name="locations", method="filter_location")

    def filter_location(self, queryset, name, value):
        return queryset.filter(locations__id=value)


class ClosureFilter(LocationFilter):
    start = AwareDateTimeFilter(field_name="ends_at", lookup_expr="gt", help_text="Closures ending after this time.")
    end = AwareDateTimeFilter(field_name="starts_at", lookup_expr="lt",
                              help_text="Closures starting before this time.")


class PatientFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", max_length=200,
                                       help_text="Words matched to name and email starts, a phone number in any "
                                                 "spacing, or a date of birth (2001-04-23 or 23/04/2001).")
    preferred_location = IdFilter(field_name="preferred_location_id")
    include_archived = StrictBooleanFilter(method="filter_archived",
                                                    help_text="Also list archived patients (default false).")

    def filter_archived(self, queryset, name, value):
        return queryset if value else queryset.filter(archived_at__isnull=True)

    def filter_search(self, queryset, name, value):
        if not value.strip():
            return queryset
        # The rows are the user's already (``scope.patients``); the view orders them by SEARCH_ORDER.
        return queryset.filter(patient_matching(value))


class ScreeningFilter(django_filters.FilterSet):
    patient = IdFilter(field_name="patient_id")


class CourseFilter(django_filters.FilterSet):
    patient = IdFilter(field_name="patient_id")
    location = IdFilter(field_name="location_id")
    status = django_filters.ChoiceFilter(choices=CourseStatus.choices)

    class Meta:
        model = Course
        fields = ["patient", "location", "status"]


class AppointmentFilter(django_filters.FilterSet):
    """``start``/``end``: the appointments overlapping [start, end), a person's or resource's calendar."""

    location = IdFilter(field_name="location_id")
    clinician = IdFilter(field_name="clinician_id")
    room = IdFilter(field_name="room_id")
    device = IdFilter(field_name="device_id")
    patient = IdFilter(field_name="patient_id")
    course = IdFilter(field_name="course_id")
    status = django_filters.MultipleChoiceFilter(choices=AppointmentStatus.choices)
    start = AwareDateTimeFilter(method="filter_start",
                                help_text="Window start (inclusive): appointments ending after it.")
    end = AwareDateTimeFilter(field_name="starts_at", lookup_expr="lt",
                              help_text="Window end (exclusive): appointments starting before it.")

    def filter_start(self, queryset, name, value):
        """Ending after ``value``; no session lasts longer than 45 minutes, so it also started at most
        45 minutes before. That second bound keeps the (clinician|room|location, starts_at) index scan
        to the window instead of every earlier appointment: the cost follows the week, not the years.

        "Ending after" is asked as "starting from ``value`` on, or still running then": PostgreSQL takes
        the end and the start for independent, and multiplied their shares as if few sessions that start
        after ``value`` also ended after it. With no ``end``, it then expected a page's worth where a
        location had 4,500 and read and sorted them all: 28-49 ms against 6 ms at 1,000,000 (bench/README.md)."""
        return queryset.filter(Q(starts_at__gte=value) | Q(ends_at__gt=value),
                               starts_at__gt=value - timedelta(minutes=SESSION_MINUTES_MAX))

    class Meta:
        model = Appointment
        fields = ["location", "clinician", "room", "device", "patient", "course", "status", "start", "end"]


class NotificationFilter(django_filters.FilterSet):
    patient = IdFilter(field_name="patient_id")
    appointment = IdFilter(field_name="appointment_id")
    course = IdFilter(field_name="course_id")
    kind = django_filters.ChoiceFilter(choices=NotificationKind.choices)
    status = django_filters.ChoiceFilter(choices=NotificationStatus.choices)


class SessionRecordFilter(django_filters.FilterSet):
    patient = IdFilter(field_name="appointment__patient_id")
    course = IdFilter(field_name="appointment__course_id")
