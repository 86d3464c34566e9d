"""The admin's date hierarchy (years, months, days that hold rows) asked period by period
(clinic.models.PeriodQuerySet), instead of Django's DISTINCT over every row of the list."""

from datetime import UTC, date, datetime, timedelta
from itertools import product

import pytest
from django.contrib import admin
from django.db import connection
from django.db.models import Max, Min, Q, QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import Closure, PeriodQuerySet
from scheduling.booking.services import appointment_enter_past
from scheduling.desk.admin_appointments import DayFilter
from scheduling.models import Appointment
from tests.factories import book, make_clinic, make_course, next_weekday

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


def _bounds_queries(queries) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if 'AS "first"' in query["sql"]]


def test_a_searched_list_asks_for_its_first_and_last_session_once(client, clinic):
    """Django's date hierarchy asks the list for its first and last row, then for its years, on the same
    queryset: the years come from the bounds it asked (a search joins the patients: 60 ms at 1,000,000)."""
    course = make_course(clinic, planned_sessions=10)
    for day in (date(2024, 3, 5), date(2026, 6, 2)):
        appointment_enter_past(course=course, clinician=clinic.clinician, room=clinic.room, device=clinic.device,
                               starts_at=clinic.at(day, 10), entered_by=clinic.front_desk.user)
    client.force_login(clinic.manager.user)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/admin/scheduling/appointment/", {"q": course.patient.last_name}).content.decode()
    assert "starts_at__year=2024" in page and "starts_at__year=2026" in page
    assert len(_bounds_queries(queries)) == 1


def test_only_the_very_bounds_of_the_very_rows_are_kept(clinic):
    for moment in INSTANTS:
        Closure.objects.create(location=clinic.location, starts_at=moment, ends_at=moment.replace(minute=59),
                               reason="Training")
    every_year = [2023, 2024, 2026]

    def years(rows, bounds_asked: int) -> list[int]:
        with timezone.override("UTC"), CaptureQueriesContext(connection) as queries:
            found = [moment.year for moment in rows.datetimes("starts_at", "year")]
        assert len(_bounds_queries(queries)) == bounds_asked
        return found

    rows = Closure.objects.filter(location=clinic.location)
    rows.aggregate(first=Min("starts_at"), last=Max("starts_at"))
    assert years(rows, bounds_asked=0) == every_year
    # Other rows, another field, another question: asked again (kept, the filtered first would drop 2023).
    assert years(rows.filter(starts_at__year=2026), bounds_asked=1) == [2026]
    other_field = Closure.objects.filter(location=clinic.location)
    other_field.aggregate(first=Min("ends_at"), last=Max("ends_at"))
    assert years(other_field, bounds_asked=1) == every_year
    other_question = Closure.objects.filter(location=clinic.location)
    other_question.aggregate(first=Min("starts_at", filter=Q(starts_at__year=2024)), last=Max("starts_at"))
    assert years(other_question, bounds_asked=1) == every_year


@pytest.mark.parametrize("value", ["today", "tomorrow", "week", "next_week", "upcoming", "past"])
def test_the_day_filter_keeps_its_local_days_at_the_ends_of_the_clock(rf, value):
    """Bounded on ``starts_at`` for the indexes, the list's day filter still keeps exactly the sessions of its
    local days, at UTC+14 and UTC-11 alike."""
    tomorrow = timezone.localdate() + timedelta(days=1)
    for zone, early, late in (("Pacific/Kiritimati", 8, 19), ("Pacific/Pago_Pago", 8, 19)):
        clinic = make_clinic(time_zone=zone)
        course = make_course(clinic, planned_sessions=10)
        for day in (tomorrow, tomorrow + timedelta(days=2), tomorrow + timedelta(days=9)):
            for hour in (early, late) if day == tomorrow else (early,):
                patient_course = course if hour == early else make_course(clinic)
                book(clinic, patient_course, clinic.at(day, hour))
        appointment_enter_past(course=make_course(clinic), clinician=clinic.clinician, room=clinic.room,
                               device=clinic.device, starts_at=clinic.at(tomorrow - timedelta(days=3), 19),
                               entered_by=clinic.front_desk.user)
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    rule = {"today": Q(local_date=today), "tomorrow": Q(local_date=tomorrow),
            "week": Q(local_date__gte=monday, local_date__lt=monday + timedelta(days=7)),
            "next_week": Q(local_date__gte=monday + timedelta(days=7), local_date__lt=monday + timedelta(days=14)),
            "upcoming": Q(local_date__gte=today), "past": Q(local_date__lt=today)}[value]
    model_admin = admin.site._registry[Appointment]
    request = rf.get("/admin/scheduling/appointment/", {"day": value})
    found = DayFilter(request, {"day": [value]}, Appointment, model_admin).queryset(request, Appointment.objects.all())
    expected = set(Appointment.objects.filter(rule).values_list("pk", flat=True))
    assert set(found.values_list("pk", flat=True)) == expected
    assert expected or value == "today"


def test_from_today_on_is_one_bound_on_the_start_where_every_location_starts_its_day_together(rf):
    """"From today on" gives PostgreSQL one condition: with a second, on the local day, it multiplied their
    shares and expected 2 of thousands of sessions (bench/README.md). The sessions are still exactly those of
    today and later at their location, here at UTC-11, where yesterday evening is already today in UTC."""
    clinic = make_clinic(time_zone="Pacific/Pago_Pago")
    today = clinic.location.local(timezone.now()).date()
    for weekday in (1, 3):
        book(clinic, make_course(clinic), clinic.at(next_weekday(weekday), 10))
    for day in (today - timedelta(days=1), today - timedelta(days=3)):
        appointment_enter_past(course=make_course(clinic), clinician=clinic.clinician, room=clinic.room,
                               device=clinic.device, starts_at=clinic.at(day, 19), entered_by=clinic.front_desk.user)
    request = rf.get("/admin/scheduling/appointment/", {"day": "upcoming"})
    with timezone.override(clinic.location.zone):  # the admin's days are the user's location's (clinic.admin)
        found = DayFilter(request, {"day": ["upcoming"]}, Appointment, admin.site._registry[Appointment]).queryset(
            request, Appointment.objects.all())
    where = str(found.query).split(" WHERE ", 1)[1].split(" ORDER BY ")[0]
    assert "local_date" not in where and where.count("starts_at") == 1
    assert set(found.values_list("pk", flat=True)) == set(
        Appointment.objects.filter(local_date__gte=today).values_list("pk", flat=True))
    assert found.count() == 2
