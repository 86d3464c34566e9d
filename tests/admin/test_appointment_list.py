import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduling.models import Appointment
from tests.admin.conftest import page_queries
from tests.factories import book, make_course, next_weekday

pytestmark = pytest.mark.django_db

COURSES = 50
SESSIONS_A_DAY = 16  # 08:00 to 19:15 local, 45 minutes apart


def bulk_insert_appointments(clinic, courses, count: int) -> None:
    """Insert `count` appointments in one INSERT ... SELECT, satisfying every database constraint.

    Why not the services: what this test checks is the list page over many rows, not booking, and
    booking each of them through appointment_book would make it one of the suite's slowest. The rows are
    what the services would make: each belongs to a course and that course's patient, at the
    location's room, device and clinician; sixteen a local day from 08:00 45 minutes apart
    (30-minute sessions, so no two overlap for any clinician, room, device or patient, with the
    turnover kept); the sixteen of a day belong to sixteen different courses (one session a day
    per course); `local_date` is the local day in the location's zone; every tenth is cancelled
    by the clinic with a reason. The exclusion, unique and check constraints of the table all
    hold, so PostgreSQL accepts every row: the data cannot be something the product forbids.
    """
    course_ids = [course.pk for course in courses]
    patient_ids = [course.patient_id for course in courses]
    first_day = next_weekday(0, weeks_ahead=4)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO scheduling_appointment (
                course_id, patient_id, location_id, clinician_id, room_id, device_id, starts_at, ends_at,
                local_date, status, cancelled_by, cancellation_reason, status_changed_at, status_changed_by_id,
                confirmed_at, confirmed_via, booked_by_id, version, created_at, updated_at)
            SELECT c.course_id, c.patient_id, %(location)s, %(clinician)s, %(room)s, %(device)s,
                   s.starts_at, s.starts_at + interval '30 minutes', s.day,
                   CASE WHEN g.i %% 10 = 9 THEN 'cancelled' ELSE 'booked' END,
                   CASE WHEN g.i %% 10 = 9 THEN 'clinic' ELSE '' END,
                   CASE WHEN g.i %% 10 = 9 THEN 'Clinic closed for training' ELSE '' END,
                   NULL, NULL, NULL, '', %(booked_by)s, 1, now(), now()
            FROM generate_series(0, %(count)s - 1) AS g(i)
            CROSS JOIN LATERAL (
                SELECT (%(first_day)s::date + (g.i / %(per_day)s)) AS day
            ) d
            CROSS JOIN LATERAL (
                SELECT d.day,
                       ((d.day + time '08:00' + (g.i %% %(per_day)s) * interval '45 minutes')
                        AT TIME ZONE %(zone)s) AS starts_at
            ) s
            CROSS JOIN LATERAL (
                SELECT (%(course_ids)s::bigint[])[g.i %% %(courses)s + 1] AS course_id,
                       (%(patient_ids)s::bigint[])[g.i %% %(courses)s + 1] AS patient_id
            ) c
            """,
            {"location": clinic.location.pk, "clinician": clinic.clinician.pk, "room": clinic.room.pk,
             "device": clinic.device.pk, "booked_by": clinic.front_desk.user.pk, "count": count,
             "first_day": first_day, "per_day": SESSIONS_A_DAY, "zone": clinic.location.time_zone,
             "course_ids": course_ids, "patient_ids": patient_ids, "courses": COURSES},
        )


def get_counted(client, url):
    client.get(url)  # as a working user has: the user's location ids are then in the shared cache
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode(), queries.captured_queries  # taken now: the next request empties the log


def test_appointment_list_costs_the_same_queries_at_10_and_1_010_appointments(desk, clinic):
    """The figures at 1,000,000 appointments are bench/admin.py's (``make bench``)."""
    day = next_weekday(1)
    courses = [make_course(clinic, planned_sessions=10) for _ in range(COURSES)]
    for i in range(10):
        book(clinic, courses[i], clinic.at(day, 8 + i))
    urls = ["/admin/scheduling/appointment/", "/admin/scheduling/appointment/?day=upcoming&status__exact=booked",
            f"/admin/scheduling/appointment/?room__id__exact={clinic.room.pk}&o=-1",
            f"/admin/scheduling/appointment/?q={courses[0].patient.last_name}"]
    small = [get_counted(desk, url) for url in urls]
    assert "10 appointments" in small[0][0]

    bulk_insert_appointments(clinic, courses, 1_000)
    assert Appointment.objects.count() == 1_010

    large = [get_counted(desk, url) for url in urls]
    assert "1010 appointments" in large[0][0]
    assert large[0][0].count('<tr><td class="action-checkbox">') == 50  # one page
    assert [len(queries) for _, queries in large] == [len(queries) for _, queries in small]
    # The staff row, the zone, the location, clinician, room and device filter lists, the count, the page,
    # and the date hierarchy's range (Django's, kept for its periods) and one statement asking each period for a
    # row (clinic.models.PeriodQuerySet): 10, whatever the number of appointments (the user's location ids
    # come from the shared cache). "From today on" also reads the locations' zones for its bound on the start.
    assert [len(page_queries(queries)) for _, queries in large] == [10, 11, 10, 10]
