"""The admin's date hierarchy (years, months, days that hold rows) asked period by period
(clinic.models.PeriodQuerySet), instead of Django's DISTINCT over every row of the list."""

from datetime import UTC, date, datetime
from itertools import product

import pytest
from django.contrib import admin
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import Closure, PeriodQuerySet
from scheduling.booking.services import appointment_enter_past
from tests.factories import make_course

pytestmark = pytest.mark.django_db

# Around a new year and a month's end in zones east and west of UTC, a daylight-saving change in Toronto,
# and a year with nothing (2025).
INSTANTS = [
    datetime(2023, 12, 31, 23, 30, tzinfo=UTC),  # 18:30 in Toronto, 08:30 on 1 Jan 2024 in Tokyo
    datetime(2024, 3, 10, 6, 30, tzinfo=UTC),  # Toronto's spring change
    datetime(2024, 3, 10, 7, 30, tzinfo=UTC),
    datetime(2026, 2, 28, 12, 0, tzinfo=UTC),
    datetime(2026, 3, 1, 4, 0, tzinfo=UTC),  # 23:00 on 28 Feb in Toronto
]


def test_every_date_hierarchy_of_ionto_reads_by_period():
    for model, model_admin in admin.site._registry.items():
        if model_admin.date_hierarchy and model._meta.app_label in ("clinic", "patients", "scheduling", "api"):
            assert isinstance(model._default_manager.all(), PeriodQuerySet), model


@pytest.mark.parametrize(("zone", "kind"),
                         list(product(("UTC", "America/Toronto", "Asia/Tokyo"), ("year", "month", "day"))))
def test_periods_are_djangos_own(clinic, zone, kind):
    for moment in INSTANTS:
        Closure.objects.create(location=clinic.location, starts_at=moment, ends_at=moment.replace(minute=59),
                               reason="Training")
    with timezone.override(zone):
        rows = Closure.objects.filter(location=clinic.location)
        wholes = [rows, rows.filter(starts_at__year=2024), rows.filter(starts_at__year=2026, starts_at__month=2),
                  rows.filter(reason="nothing like it")]
        for subset in wholes:
            for order in ("ASC", "DESC"):
                asked = list(subset.datetimes("starts_at", kind, order))
                assert asked == list(QuerySet.datetimes(subset, "starts_at", kind, order)), (subset.query, order)
    with timezone.override("Asia/Tokyo"):
        assert [moment.year for moment in rows.datetimes("starts_at", "year")] == [2024, 2026]


def test_a_managers_appointment_list_finds_its_years_without_reading_every_session(client, clinic):
    course = make_course(clinic, planned_sessions=10)
    for day in (date(2024, 3, 5), date(2024, 11, 12), date(2026, 6, 2)):
        appointment_enter_past(course=course, clinician=clinic.clinician, room=clinic.room, device=clinic.device,
                               starts_at=clinic.at(day, 10), entered_by=clinic.front_desk.user)
    client.force_login(clinic.manager.user)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/admin/scheduling/appointment/").content.decode()
    assert "starts_at__year=2024" in page and "starts_at__year=2026" in page
    assert "starts_at__year=2025" not in page
    assert not [query["sql"] for query in queries.captured_queries if "DATE_TRUNC" in query["sql"].upper()]

    year = client.get("/admin/scheduling/appointment/?starts_at__year=2024").content.decode()
    assert "starts_at__month=3" in year and "starts_at__month=11" in year and "starts_at__month=4" not in year
    month = client.get("/admin/scheduling/appointment/?starts_at__year=2024&starts_at__month=11").content.decode()
    assert "starts_at__day=12" in month and "starts_at__day=11" not in month
