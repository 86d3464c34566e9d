"""The front desk's admin pages on the bench databases: each page's median time and its SQL queries.

    python -m bench.admin --database ionto_bench_10k --database ionto_bench_1m

The pages are the appointment list (as it opens, upcoming booked sessions, sessions still booked before
today, one room's sessions newest first, a search by surname), the day schedule of a location's busiest
day and the course list (as it opens, the open courses), asked in-process through Django's test client
as a front-desk user of that location (``bench-desk``, made through ``clinic.services.staff_create`` on
the first run). Each page's query count must be the same at every size: the suite checks that at a small
size (tests/admin/test_appointment_list.py, tests/admin/test_day_schedule.py), this benchmark at the
bench's sizes, and prints the times the suite does not measure.
"""

from __future__ import annotations

import argparse
import statistics

from bench import DEFAULT_DATABASE, use_database
from bench.stats import emit, repeat

DESK = "bench-desk"
# Figures that are counts, not pages: printed with the data.
COUNTS = ("appointments in the database", "sessions on the busiest day")


def pages(location, room, surname: str, day) -> dict[str, str]:
    lists = "/admin/scheduling/appointment/"
    return {
        "appointment list": lists,
        "appointment list, upcoming booked": f"{lists}?day=upcoming&status__exact=booked",
        # The sessions nobody marked arrived or a no-show: few in a clinic that keeps up, none in the generator's.
        "appointment list, booked before today": f"{lists}?day=past&status__exact=booked",
        "appointment list, one room, newest first": f"{lists}?room__id__exact={room.pk}&o=-1",
        "appointment list, search by surname": f"{lists}?q={surname}",
        "day schedule of the busiest day": f"{lists}day/?location={location.pk}&date={day.isoformat()}&by=room",
        "course list": "/admin/scheduling/course/",
        "course list, open courses": "/admin/scheduling/course/?state=open",
    }


def measure(database: str, runs: int) -> dict[str, tuple[list[float], int]]:
    """Milliseconds of ``runs`` requests (after one warm-up) and the queries of one, for each page."""
    use_database(database)
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from clinic.models import Location, Room, Staff, StaffRole
    from clinic.services import staff_create
    from patients.models import Patient
    from scheduling.models import Appointment, AppointmentStatus

    location = Location.objects.order_by("pk").first()
    if location is None:
        raise SystemExit(f"{database} is empty: run python -m bench.seed --database {database} first.")
    desk = Staff.objects.filter(user__username=DESK).first() or staff_create(
        username=DESK, first_name="Bench", last_name="Desk", role=StaffRole.FRONT_DESK, locations=[location])
    # Counted over the generator's sessions, as bench.api's questions are: the API runs book and cancel
    # thousands of sessions on a few days of a reused database, and those days must not become the question.
    busiest = (Appointment.objects.filter(location=location,
                                          status__in=(AppointmentStatus.BOOKED, AppointmentStatus.FULFILLED))
               .values("local_date").annotate(sessions=Count("id")).order_by("-sessions", "local_date").first())
    room = Room.objects.filter(location=location).order_by("pk").first()
    surname = Patient.objects.order_by("pk").values_list("last_name", flat=True).first()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(desk.user)
    figures = {}
    for page, url in pages(location, room, surname, busiest["local_date"]).items():
        client.get(url)  # as a working user has: the user's location ids are then in the shared cache
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code} on {database}")
        counted = len(queries.captured_queries)
        figures[page] = (repeat(lambda url=url: client.get(url), times=runs, budget_seconds=20), counted)
    figures[COUNTS[0]] = ([Appointment.objects.count()], 0)
    figures[COUNTS[1]] = ([busiest["sessions"]], 0)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", action="append",
                        help=f"bench database (repeat to compare; default {DEFAULT_DATABASE})")
    parser.add_argument("--runs", type=int, default=21, help="timed requests per page")
    args = parser.parse_args()
    databases = args.database or [DEFAULT_DATABASE]
    results = {}
    for database in databases:
        results[database] = {page: (statistics.median(times), queries)
                             for page, (times, queries) in measure(database, args.runs).items()}
        figures = results[database]
        print(f"{database}: {figures[COUNTS[0]][0]:,} appointments, {figures[COUNTS[1]][0]:,} sessions on the "
              "busiest day")
        for page, (milliseconds, queries) in figures.items():
            if page not in COUNTS:
                print(f"  {page}: {milliseconds:.1f} ms median, {queries} queries")
    emit({"benchmark": "admin", "databases": databases, "results": results})


if __name__ == "__main__":
    main()
