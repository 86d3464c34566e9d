"""Courses: their output and the inputs that create, discontinue and extend one."""

from __future__ import annotations

from rest_framework import serializers

from api.fields import (
    ScopedPrimaryKeyField,
    StrictInputSerializer,
)
from clinic.models import Location
from patients.models import Patient
from scheduling.models import (
    INITIAL_SESSIONS_MAX,
    INITIAL_SESSIONS_MIN,
    MAINTENANCE_INTERVAL_WEEKS_DEFAULT,
    MAINTENANCE_INTERVAL_WEEKS_MAX,
    MAINTENANCE_INTERVAL_WEEKS_MIN,
    MAINTENANCE_SESSIONS_DEFAULT,
    MAINTENANCE_SESSIONS_MAX,
    MAINTENANCE_SESSIONS_MIN,
    SESSION_MINUTES_MAX,
    SESSION_MINUTES_MIN,
    SESSIONS_PER_WEEK_DEFAULT,
    SESSIONS_PER_WEEK_MAX,
    SESSIONS_PER_WEEK_MIN,
    BodySite,
    Course,
    Indication,
)


class CourseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Course
        fields = ["id", "patient", "location", "indication", "body_sites", "body_site_other", "medication", "phase",
                  "follows", "planned_sessions", "session_minutes", "sessions_per_week",
                  "maintenance_interval_weeks", "status", "discontinued_reason", "ended_at", "created_at"]
        read_only_fields = fields


class CourseCreateSerializer(StrictInputSerializer):
    patient = ScopedPrimaryKeyField(scope="patients", queryset=Patient.objects.all())
    location = ScopedPrimaryKeyField(scope="locations", queryset=Location.objects.all())
    indication = serializers.ChoiceField(choices=Indication.choices)
    body_sites = serializers.ListField(child=serializers.ChoiceField(choices=BodySite.choices), min_length=1,
                                       max_length=4)
    body_site_other = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)
    medication = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)
    planned_sessions = serializers.IntegerField(min_value=INITIAL_SESSIONS_MIN, max_value=INITIAL_SESSIONS_MAX)
    session_minutes = serializers.IntegerField(min_value=SESSION_MINUTES_MIN, max_value=SESSION_MINUTES_MAX,
                                               default=30)
    sessions_per_week = serializers.IntegerField(min_value=SESSIONS_PER_WEEK_MIN, max_value=SESSIONS_PER_WEEK_MAX,
                                                 default=SESSIONS_PER_WEEK_DEFAULT)


class CourseDiscontinueSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=2000)


class CourseMaintenanceSerializer(StrictInputSerializer):
    interval_weeks = serializers.IntegerField(min_value=MAINTENANCE_INTERVAL_WEEKS_MIN,
                                              max_value=MAINTENANCE_INTERVAL_WEEKS_MAX,
                                              default=MAINTENANCE_INTERVAL_WEEKS_DEFAULT)
    planned_sessions = serializers.IntegerField(min_value=MAINTENANCE_SESSIONS_MIN, max_value=MAINTENANCE_SESSIONS_MAX,
                                                default=MAINTENANCE_SESSIONS_DEFAULT)
