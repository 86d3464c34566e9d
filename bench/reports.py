"""The managers' reports on the bench databases: each report over a year, its median time and its SQL queries.

    python -m bench.reports --database ionto_bench_10k --database ionto_bench_1m

Each report (``scheduling.reports.selectors``) is asked for every location over the 365 local days that
end on the last day with a session (the generator books up to its booking horizon; a small database is
all in that horizon), as a manager (``bench-manager``, made through
``clinic.services.staff_create`` on the first run), in-process: the selector's time, not the page's
rendering. The goal (issue 24): the same queries at every size and a median under 300 ms.
"""

from __future__ import annotations

import argparse
import statistics
from datetime import timedelta

from bench import DEFAULT_DATABASE, use_database
from bench.stats import emit, repeat

MANAGER = "bench-manager"
GOAL_MS = 300
COUNTS = ("appointments in the database", "appointments in the year asked")


def measure(database: str, runs: int) -> dict[str, tuple[list[float], int]]:
    """Milliseconds of ``runs`` calls (after one counted call) and the queries of one, for each report."""
    use_database(database)
    from django.db import connection
    from django.db.models import Max
    from django.test.utils import CaptureQueriesContext

    from clinic.models import Location, Staff, StaffRole
    from clinic.services import staff_create
    from scheduling.models import Appointment
    from scheduling.reports.selectors import REPORTS, report_period

    location = Location.objects.order_by("pk").first()
    if location is None:
        raise SystemExit(f"{database} is empty: run python -m bench.seed --database {database} first.")
    manager = Staff.objects.filter(user__username=MANAGER).first() or staff_create(
        username=MANAGER, first_name="Bench", last_name="Manager", role=StaffRole.MANAGER, locations=[location])
    end = Appointment.objects.aggregate(last=Max("local_date"))["last"]
    period = report_period(user=manager.user, start=end - timedelta(days=364), end=end)
    figures = {}
    for name, (_, build) in REPORTS.items():
        with CaptureQueriesContext(connection) as queries:
            build(period=period)
        figures[name] = (repeat(lambda build=build: build(period=period), times=runs, budget_seconds=30),
                         len(queries.captured_queries))
    figures[COUNTS[0]] = ([Appointment.objects.count()], 0)
    figures[COUNTS[1]] = ([Appointment.objects.filter(local_date__gte=period.start, local_date__lte=period.end)
                           .count()], 0)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", action="append",
                        help=f"bench database (repeat to compare; default {DEFAULT_DATABASE})")
    parser.add_argument("--runs", type=int, default=11, help="timed calls per report")
    args = parser.parse_args()
    databases = args.database or [DEFAULT_DATABASE]
    results = {}
    for database in databases:
        results[database] = {name: (statistics.median(times), queries)
                             for name, (times, queries) in measure(database, args.runs).items()}
        figures = results[database]
        print(f"{database}: {figures[COUNTS[0]][0]:,} appointments, {figures[COUNTS[1]][0]:,} in the year asked")
        for name, (milliseconds, queries) in figures.items():
            if name not in COUNTS:
                print(f"  {name}: {milliseconds:.1f} ms median, {queries} queries")
    emit({"benchmark": "reports", "databases": databases, "results": results, "goal_ms": GOAL_MS})


if __name__ == "__main__":
    main()
