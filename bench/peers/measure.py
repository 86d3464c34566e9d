"""Ask the peers the benchmark's questions in-process (Django's test client) and print the figures.

Run in bench/.peers-venv with PEERS_DATABASE_URL set, after load.py. The questions:
django-scheduler's JSON occurrence feed for one clinician's calendar-week; django-appointment's
free slots of one staff member for one day (its AJAX view) and of all staff for a week (its own
service, per staff member and day).
"""

from __future__ import annotations

import argparse
import os
from datetime import date, timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peers_site.settings")


class QueryCounter:
    """Counts every SQL query (Django's own query log keeps only the last 9,000)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def measure(*, week: date, times: int, budget_seconds: float) -> dict:
    import django

    django.setup()
    from appointment.models import StaffMember
    from django.db import connection
    from django.test import Client

    from bench.stats import repeat, summary

    client = Client()
    staff_member = StaffMember.objects.order_by("id").first()
    day = week + timedelta(days=1)
    questions = {
        "django_scheduler_week": (f"/schedule/api/occurrences?calendar_slug=clinician-1&start={week.isoformat()}"
                                  f"&end={(week + timedelta(days=7)).isoformat()}&timezone=Europe/London", {}),
        "django_appointment_day": (f"/appointment/ajax/available_slots/?selected_date={day.isoformat()}"
                                   f"&staff_member={staff_member.pk}", {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}),
        "django_appointment_week": (f"/bench/appointment-week/?start={week.isoformat()}", {}),
    }
    figures = {}
    for name, (url, headers) in questions.items():
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            response = client.get(url, **headers)
        queries = counter.count
        if response.status_code != 200:
            raise SystemExit(f"{name}: {url} answered {response.status_code}: {response.content[:300]!r}")
        size = len(response.content)
        timings = repeat(lambda url=url, headers=headers: client.get(url, **headers), times=times,
                         budget_seconds=budget_seconds, at_least=2)
        figures[name] = {**summary(timings), "queries": queries, "bytes": size, "url": url}
    return figures


def main() -> None:
    from bench.stats import emit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--week", type=date.fromisoformat, required=True, help="the Monday of the week asked")
    parser.add_argument("--times", type=int, default=20)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per question at most (3 runs at least)")
    args = parser.parse_args()
    emit(measure(week=args.week, times=args.times, budget_seconds=args.budget))


if __name__ == "__main__":
    main()
