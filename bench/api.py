"""The API benchmark's Django side, on a bench database made by ``python -m bench.seed``.

    python -m bench.api prepare --database ionto_bench_1m              a login and the questions (the plan)
    python -m bench.api queries --database ionto_bench_1m --plan F     SQL queries of each request
    python -m bench.api floor   --database ionto_bench_1m --plan F     the day schedule in one hand-written query
    python -m bench.api peers   --database ionto_bench_1m --plan F     Ionto on the peers' questions, in-process

Each prints its figures as a last ``BENCH-JSON {...}`` line (``bench.run`` reads it). The login is a
manager made through ``clinic.services.staff_create``; the booking lanes are bench patients, screened
and given a course through the services, each with a free time of its own in the coming week.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bench import use_database
from bench.scenarios import BOOK_PATH, CANCEL_BODY, READS, book_body, cancel_path, move_path, read_path
from bench.stats import emit, repeat, summary

LANES = 16
# The bench's own requests must not be throttled (the load generator raises the same rates for gunicorn).
UNTHROTTLED = "1000000/min"


def _setup(database: str) -> None:
    os.environ.setdefault("IONTO_API_RATE_USER", UNTHROTTLED)
    use_database(database)


def _local_midnight(day: date, zone: ZoneInfo) -> str:
    return datetime.combine(day, time(0), zone).astimezone(UTC).isoformat().replace("+00:00", "Z")


def prepare(*, database: str, lanes: int = LANES) -> dict:
    """A manager's login and the questions: one location's busiest complete day and week, a clinician
    of that week, a course, a name prefix, and ``lanes`` bookable times that cannot collide."""
    _setup(database)
    from django.db.models import Count, Max

    from clinic.models import Location, Staff, StaffRole
    from clinic.services import staff_create
    from patients import services as patient_services
    from patients.models import CONTRAINDICATIONS, Patient
    from scheduling.booking.courses import course_create
    from scheduling.booking.selectors import slot_list_available
    from scheduling.models import Appointment, AppointmentStatus

    location = Location.objects.order_by("pk").first()
    if location is None:
        raise SystemExit(f"{database} is empty: run python -m bench.seed --database {database} first.")
    zone = ZoneInfo(location.time_zone)
    password = secrets.token_urlsafe(24)
    manager = staff_create(username=f"bench-manager-{secrets.token_hex(4)}", first_name="Bench", last_name="Manager",
                           role=StaffRole.MANAGER, locations=list(Location.objects.all()), password=password)
    clinician_of_desk = Staff.objects.filter(locations=location, role=StaffRole.CLINICIAN).order_by("pk").first()
    last_day = Appointment.objects.filter(location=location).aggregate(last=Max("local_date"))["last"]
    # The generator books densely up to its horizon: the last complete days are full at every size.
    day = last_day - timedelta(days=2)
    if day.weekday() == 6:
        day -= timedelta(days=1)
    monday = last_day - timedelta(days=7)
    monday -= timedelta(days=monday.weekday())
    # Counted over the generator's sessions (not those the runs book and cancel), so the question
    # stays the same from one run to the next on a reused database.
    busiest = (Appointment.objects.filter(location=location, local_date__gte=monday,
                                          local_date__lt=monday + timedelta(days=7),
                                          status__in=(AppointmentStatus.BOOKED, AppointmentStatus.FULFILLED))
               .values("clinician").annotate(sessions=Count("id")).order_by("-sessions", "clinician").first())
    first_of_day = (Appointment.objects.filter(location=location, local_date=day).order_by("starts_at", "pk")
                    .first())
    patient = Patient.objects.order_by("pk").first()

    today = location.local(datetime.now(UTC)).date()
    first = today + timedelta(days=2)
    answers = dict.fromkeys(CONTRAINDICATIONS, False)
    courses = []
    for lane in range(lanes):
        bench_patient = patient_services.patient_register(
            first_name="Bench", last_name=f"Lane{lane:02d}", date_of_birth=date(1990, 1, 1),
            registered_by=manager.user, preferred_location=location,
            different_person=True)  # each run makes its own lanes' patients, of the same names
        patient_services.screening_record(patient=bench_patient, recorded_by=clinician_of_desk.user, answers=answers)
        courses.append(course_create(patient=bench_patient, location=location, indication="hyperhidrosis",
                                     body_sites=["palms"], planned_sessions=10, created_by=manager.user))
    # Times that overlap no other lane's, so lanes share no clinician, room, device or patient at once.
    slots = slot_list_available(location=location, start=first, end=first + timedelta(days=7), course=courses[0])
    chosen, last_end = [], None
    gap = timedelta(minutes=location.turnover_minutes + 5)
    for slot in sorted(slots, key=lambda slot: slot.starts_at):
        if last_end is None or slot.starts_at >= last_end + gap:
            chosen.append(slot)
            last_end = slot.ends_at
        if len(chosen) == lanes:
            break
    if len(chosen) < lanes:
        raise SystemExit(f"Only {len(chosen)} separate free times in the week from {first}; {lanes} needed.")
    iso = lambda moment: moment.astimezone(UTC).isoformat().replace("+00:00", "Z")  # noqa: E731
    return {
        "database": database,
        "username": manager.user.username,
        "password": password,
        "location": location.pk,
        "day": day.isoformat(),
        "day_start": _local_midnight(day, zone),
        "day_end": _local_midnight(day + timedelta(days=1), zone),
        "week_first_day": monday.isoformat(),
        "week_next_monday": (monday + timedelta(days=7)).isoformat(),
        "week_start": _local_midnight(monday, zone),
        "week_end": _local_midnight(monday + timedelta(days=7), zone),
        "clinician": busiest["clinician"],
        "clinician_sessions_in_week": busiest["sessions"],
        "patient_prefix": patient.last_name[:3],
        "course": first_of_day.course_id,
        "appointments": Appointment.objects.count(),
        "lanes": [{"course": course.pk, "clinician": slot.clinician.pk, "room": slot.room.pk,
                   "device": slot.device.pk, "starts_at": iso(slot.starts_at)}
                  for course, slot in zip(courses, chosen, strict=True)],
    }


def _client(plan: dict):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from api.services import token_issue

    user = get_user_model().objects.get(username=plan["username"])
    return Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token_issue(user=user).token}")


def _counted(call) -> tuple[int, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = call()
    return len(queries), response


def queries(*, plan: dict) -> dict:
    """The SQL queries of one request of each scenario, after one warm-up request, and its rows."""
    _setup(plan["database"])
    client = _client(plan)
    figures = {}
    for scenario in READS:
        path = read_path(plan, scenario)
        client.get(path)
        count, response = _counted(lambda path=path: client.get(path))
        body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        rows = len(body.get("results", [])) if isinstance(body, dict) else len(body)
        figures[scenario] = {"queries": count, "status": response.status_code, "rows": rows}
    lane = plan["lanes"][0]
    count, response = _counted(lambda: client.post(BOOK_PATH, book_body(lane), content_type="application/json"))
    figures["book"] = {"queries": count, "status": response.status_code, "rows": 1}
    if response.status_code == 201:
        appointment = response.json()["id"]
        # Moved to where it is (the calendar's drop on the same cell): every booking rule runs again.
        count, response = _counted(lambda: client.post(move_path(appointment), {"starts_at": lane["starts_at"]},
                                                       content_type="application/json"))
        figures["move"] = {"queries": count, "status": response.status_code, "rows": 1}
        count, response = _counted(lambda: client.post(cancel_path(appointment), CANCEL_BODY,
                                                       content_type="application/json"))
        figures["cancel"] = {"queries": count, "status": response.status_code, "rows": 1}
    else:
        figures["book"]["error"] = response.content.decode()[:300]
    return figures


FLOOR_SQL = """
SELECT a.id, a.course_id, a.patient_id, p.first_name, p.last_name, a.location_id, a.clinician_id,
       u.first_name, u.last_name, u.username, a.room_id, r.name, a.device_id, d.model, d.serial_number,
       a.starts_at, a.ends_at, a.local_date, l.time_zone, a.status, a.cancelled_by, a.cancellation_reason,
       a.confirmed_at, a.confirmed_via, a.version
FROM scheduling_appointment a
JOIN patients_patient p ON p.id = a.patient_id
JOIN clinic_staff s ON s.id = a.clinician_id
JOIN auth_user u ON u.id = s.user_id
JOIN clinic_room r ON r.id = a.room_id
JOIN clinic_device d ON d.id = a.device_id
JOIN clinic_location l ON l.id = a.location_id
WHERE a.location_id = %s AND a.ends_at > %s AND a.starts_at < %s
  -- An appointment never runs past midnight, so none starts a day or more before the window: the
  -- index on (location, starts_at) then reads the day, not the years before it.
  AND a.starts_at > %s::timestamptz - interval '1 day'
ORDER BY a.starts_at, a.id
"""


def floor_day_schedule(cursor, plan: dict) -> str:
    """The day schedule as the API answers it (same fields), from one hand-written query, as JSON."""
    cursor.execute(FLOOR_SQL, [plan["location"], plan["day_start"], plan["day_end"], plan["day_start"]])
    zones: dict[str, ZoneInfo] = {}
    results = []
    for (pk, course, patient, first, last, location, clinician, c_first, c_last, c_username, room, room_name,
         device, model, serial, starts, ends, local_date, zone_name, status, cancelled_by, reason, confirmed_at,
         confirmed_via, version) in cursor.fetchall():
        zone = zones.setdefault(zone_name, ZoneInfo(zone_name))
        results.append({
            "id": pk, "course": course, "patient": patient, "patient_name": f"{first} {last}",
            "location": location, "clinician": clinician,
            "clinician_name": f"{c_first} {c_last}".strip() or c_username, "room": room, "room_name": room_name,
            "device": device, "device_name": f"{model} #{serial}", "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(), "local_date": local_date.isoformat(), "time_zone": zone_name,
            "local_starts_at": starts.astimezone(zone).isoformat(), "local_ends_at": ends.astimezone(zone).isoformat(),
            "status": status, "cancelled_by": cancelled_by, "cancellation_reason": reason,
            "confirmed_at": confirmed_at.isoformat() if confirmed_at else None, "confirmed_via": confirmed_via,
            "version": version, "etag": f'"appointment-{pk}-v{version}"',
        })
    return json.dumps({"next": None, "previous": None, "results": results})


def floor(*, plan: dict, times: int, budget_seconds: float) -> dict:
    """The floor: psycopg2, one query, JSON, in this process; the connection stays open like gunicorn's."""
    _setup(plan["database"])
    import psycopg2
    from django.db import connections

    settings_dict = connections["default"].settings_dict
    connection = psycopg2.connect(dbname=settings_dict["NAME"], user=settings_dict["USER"],
                                  password=settings_dict["PASSWORD"], host=settings_dict["HOST"] or None,
                                  port=settings_dict["PORT"] or None)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            rows = len(json.loads(floor_day_schedule(cursor, plan))["results"])
            timings = repeat(lambda: floor_day_schedule(cursor, plan), times=times, budget_seconds=budget_seconds)
    finally:
        connection.close()
    return {**summary(timings), "queries": 1, "rows": rows}


def noop(client, *, times: int, budget_seconds: float) -> dict:
    """The API's own cost: an authenticated request that does nothing (bench/noop.py), after a first one."""
    from django.test import override_settings

    from bench.noop import NOOP_PATH

    with override_settings(ROOT_URLCONF="bench.noop"):
        if client.get(NOOP_PATH).status_code != 204:
            raise SystemExit(f"{NOOP_PATH} did not answer 204")
        count, _ = _counted(lambda: client.get(NOOP_PATH))
        timings = repeat(lambda: client.get(NOOP_PATH), times=times, budget_seconds=budget_seconds)
    return {**summary(timings), "queries": count, "via": f"GET {NOOP_PATH}"}


def peers(*, plan: dict, times: int, budget_seconds: float) -> dict:
    """Ionto answering the peers' questions the way the peers are asked: Django's test client, in-process."""
    _setup(plan["database"])
    client = _client(plan)
    week = date.fromisoformat(plan["week_first_day"])
    day = week + timedelta(days=1)
    location = plan["location"]
    availability = "/api/v1/availability/"
    questions = {
        "clinician_week": read_path(plan, "clinician_week"),
        "availability_day": f"{availability}?location={location}&start={day}&end={day + timedelta(days=1)}"
                            f"&minutes=30&clinician={plan['clinician']}",
        "availability_week": read_path(plan, "availability_week"),
    }
    figures = {"noop": noop(client, times=times * 5, budget_seconds=budget_seconds)}
    for name, path in questions.items():
        count, response = _counted(lambda path=path: client.get(path))
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}: {response.content[:300]!r}")
        timings = repeat(lambda path=path: client.get(path), times=times, budget_seconds=budget_seconds)
        figures[name] = {**summary(timings), "queries": count, "via": f"GET {path}"}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["prepare", "queries", "floor", "peers"])
    parser.add_argument("--database", required=True)
    parser.add_argument("--plan", help="the plan file written from `prepare`")
    parser.add_argument("--times", type=int, default=200)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per question at most")
    args = parser.parse_args()
    started = clock.monotonic()
    if args.command == "prepare":
        figures = prepare(database=args.database)
    else:
        with open(args.plan) as handle:
            plan = json.load(handle)
        plan["database"] = args.database
        if args.command == "queries":
            figures = queries(plan=plan)
        elif args.command == "floor":
            figures = floor(plan=plan, times=args.times, budget_seconds=args.budget)
        else:
            figures = peers(plan=plan, times=args.times, budget_seconds=args.budget)
    figures["seconds"] = round(clock.monotonic() - started, 1)
    emit(figures)


if __name__ == "__main__":
    main()
