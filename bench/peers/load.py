"""Load the peers' database with the shape of Ionto's bench data: 20 clinicians, 200,000 sessions.

Run in bench/.peers-venv with PEERS_DATABASE_URL set (``bench.run`` does this). Each clinician works
Monday to Saturday 08:00-20:00 with a 30-minute session every 45 minutes (16 a day); the sessions
run from about two years back to a few weeks ahead. django-scheduler gets one calendar per
clinician with one event per session; django-appointment gets one staff member per clinician with
working hours and one appointment request plus appointment per session. Rows go in with
bulk_create: the peers' own save() refuses dates in the past.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peers_site.settings")

SESSIONS_A_DAY = 16
SESSION_MINUTES = 30
EVERY_MINUTES = 45
CLIENTS = 2000
BATCH = 10_000


def session_days(*, today: date, sessions: int, clinicians: int) -> list[date]:
    """Working days (Mon-Sat) ending a few weeks after ``today``, enough for ``sessions``."""
    per_day = clinicians * SESSIONS_A_DAY
    days_needed = -(-sessions // per_day)
    first = today - timedelta(weeks=100)
    first -= timedelta(days=first.weekday())
    days, day = [], first
    while len(days) < days_needed:
        if day.weekday() < 6:
            days.append(day)
        day += timedelta(days=1)
    return days


def load(*, sessions: int, clinicians: int, today: date) -> dict:
    import django

    django.setup()
    from appointment.models import Appointment, AppointmentRequest, Service, StaffMember, WorkingHours
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from schedule.models import Calendar, Event

    started = clock.monotonic()
    call_command("migrate", verbosity=0)
    # django-appointment ships no migrations: its tables come from run_syncdb, once auth's exist.
    call_command("migrate", run_syncdb=True, verbosity=0)
    User = get_user_model()
    zone = ZoneInfo("Europe/London")
    users = User.objects.bulk_create([User(username=f"clinician{n}", first_name="Clinician", last_name=str(n))
                                      for n in range(1, clinicians + 1)])
    clients = User.objects.bulk_create([User(username=f"client{n}", first_name="Client", last_name=str(n))
                                        for n in range(1, CLIENTS + 1)])
    service = Service.objects.create(name="Iontophoresis", duration=timedelta(minutes=SESSION_MINUTES), price=0)
    staff = StaffMember.objects.bulk_create([StaffMember(user=user, slot_duration=SESSION_MINUTES,
                                                         lead_time=time(8), finish_time=time(20),
                                                         work_on_saturday=True) for user in users])
    for member in staff:
        member.services_offered.add(service)
    # django-appointment numbers days from Sunday = 0: Monday to Saturday are 1..6.
    WorkingHours.objects.bulk_create([WorkingHours(staff_member=member, day_of_week=weekday, start_time=time(8),
                                                   end_time=time(20)) for member in staff for weekday in range(1, 7)])
    calendars = Calendar.objects.bulk_create([Calendar(name=f"Clinician {n}", slug=f"clinician-{n}")
                                              for n in range(1, clinicians + 1)])
    days = session_days(today=today, sessions=sessions, clinicians=clinicians)
    events, requests, made = [], [], 0
    for day in days:
        for index in range(clinicians):
            for block in range(SESSIONS_A_DAY):
                if made == sessions:
                    break
                starts = datetime.combine(day, time(8), zone) + timedelta(minutes=EVERY_MINUTES * block)
                ends = starts + timedelta(minutes=SESSION_MINUTES)
                events.append(Event(start=starts, end=ends, title=f"Session {made}", calendar=calendars[index]))
                requests.append(AppointmentRequest(date=day, start_time=starts.time(), end_time=ends.time(),
                                                   service=service, staff_member=staff[index],
                                                   id_request=f"bench{made}"))
                made += 1
        if len(events) >= BATCH:
            _flush(Event, AppointmentRequest, Appointment, events, requests, clients)
            events, requests = [], []
    _flush(Event, AppointmentRequest, Appointment, events, requests, clients)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"sessions": made, "clinicians": clinicians, "first_day": days[0].isoformat(),
            "last_day": days[-1].isoformat(), "seconds": round(clock.monotonic() - started, 1)}


def _flush(Event, AppointmentRequest, Appointment, events, requests, clients) -> None:
    Event.objects.bulk_create(events, batch_size=BATCH)
    made = AppointmentRequest.objects.bulk_create(requests, batch_size=BATCH)
    Appointment.objects.bulk_create([
        Appointment(client=clients[request.pk % len(clients)], appointment_request=request, phone="",
                    amount_to_pay=0, id_request=request.id_request) for request in made
    ], batch_size=BATCH)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200_000)
    parser.add_argument("--clinicians", type=int, default=20)
    parser.add_argument("--today", type=date.fromisoformat, default=datetime.now(UTC).date())
    args = parser.parse_args()
    figures = load(sessions=args.sessions, clinicians=args.clinicians, today=args.today)
    print("BENCH-JSON " + json.dumps(figures), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
