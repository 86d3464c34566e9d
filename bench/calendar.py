"""The front-desk calendar's week view in Chromium: how long the busiest week of a location takes to draw.

    python -m bench.calendar --seed     # makes ionto_bench_calendar first (bench.seed, 1 location, 20,000 sessions)
    python -m bench.calendar            # measures again on it

The seeded location (10 rooms, open Monday to Saturday) holds about 700 sessions in a full week. The
benchmark serves the project in-process (Django's WSGI application with its static files, on
loopback), signs in a front-desk user of that location (``bench-desk``, made through
``clinic.services.staff_create`` on the first run) and opens the calendar's week view of the location's
busiest week in Debian's headless Chromium (Playwright), ``--runs`` times after one warm-up. The page
marks when the calendar's data arrived and when EventCalendar has drawn every session
(``calendar-draw``), and from asking to drawn (``calendar-load``); the figures are their medians,
with the page's whole load (navigation start to drawn). Nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
from datetime import timedelta
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from bench import use_database
from bench.stats import emit

DESK = "bench-desk"
CHROMIUM = os.environ.get("IONTO_CHROMIUM", "/usr/bin/chromium")  # as the browser tests
GOAL_DRAW_MS = 300.0


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the name wsgiref gives it
        pass


class ThreadedServer(WSGIServer):
    daemon_threads = True


def busiest_week(location):
    """The Monday of the location's week with the most active sessions, and their count."""
    from django.db.models import Count
    from django.db.models.functions import TruncWeek

    from scheduling.models import ACTIVE_STATUSES, Appointment

    week = (Appointment.objects.filter(location=location, status__in=ACTIVE_STATUSES + ("noshow",))
            .annotate(week=TruncWeek("local_date")).values("week").annotate(sessions=Count("id"))
            .order_by("-sessions", "week").first())
    if week is None:
        raise SystemExit("The location has no sessions: run python -m bench.seed first (see above).")
    return week["week"], week["sessions"]


def measure(database: str, runs: int) -> dict[str, list[float]]:
    use_database(database)
    from django.conf import settings
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.wsgi import get_wsgi_application
    from django.test import Client
    from playwright.sync_api import sync_playwright

    from clinic.models import Location, Staff, StaffRole
    from clinic.services import staff_create

    location = Location.objects.order_by("pk").first()
    if location is None:
        raise SystemExit(f"{database} is empty: run python -m bench.seed --database {database} first.")
    desk = Staff.objects.filter(user__username=DESK).first() or staff_create(
        username=DESK, first_name="Bench", last_name="Desk", role=StaffRole.FRONT_DESK, locations=[location])
    monday, sessions = busiest_week(location)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    server = make_server("127.0.0.1", 0, StaticFilesHandler(get_wsgi_application()), server_class=ThreadedServer,
                         handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(desk.user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    url = (f"{base}/admin/scheduling/appointment/calendar/?location={location.pk}&date={monday.isoformat()}"
           "&view=week&by=room")
    figures: dict[str, list[float]] = {"draw": [], "load": [], "page": [], "library": []}
    drawn = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="en-GB")
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}])
        page = context.new_page()
        for run in range(runs + 1):
            page.goto(url)
            page.wait_for_selector("#calendar[data-drawn]:not([data-drawn='0'])", timeout=60_000)
            measures = page.evaluate("""() => Object.fromEntries(['calendar-draw', 'calendar-load'].map(
                name => [name, performance.getEntriesByName(name).at(-1).duration]))""")
            finished = page.evaluate("() => performance.getEntriesByName('calendar-load').at(-1)"
                                     ".startTime + performance.getEntriesByName('calendar-load').at(-1).duration")
            drawn = int(page.get_attribute("#calendar", "data-drawn"))
            if run:  # the first run warms the caches
                figures["draw"].append(measures["calendar-draw"])
                figures["load"].append(measures["calendar-load"])
                figures["page"].append(finished)
        figures["library"] = library_floor(page, base, location, monday, runs)
        browser.close()
    server.shutdown()
    print(f"{location.name}: the week of {monday:%d %b %Y} to {monday + timedelta(days=6):%d %b %Y}, "
          f"{sessions} sessions in the database, {drawn} drawn; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    return figures


# EventCalendar alone, with the same sessions and columns and none of Ionto's page: the library's own cost.
FLOOR_PAGE = """<!doctype html><html><head>
<link rel="stylesheet" href="{base}/static/vendor/event-calendar/event-calendar.min.css">
<script src="{base}/static/vendor/event-calendar/event-calendar.min.js"></script></head>
<body style="width: 1600px"><div id="floor"></div></body></html>"""
FLOOR_SCRIPT = """([answer, monday]) => new Promise((resolve) => {
    // The grid first, empty; then the sessions, timed as the page's own draw is.
    let given = 0;
    const events = answer.sessions.map((s) => ({id: String(s.id), resourceIds: [String(s.resource)], start: s.start,
                                                end: s.end, title: s.patient_name}));
    const calendar = EventCalendar.create(document.getElementById('floor'), {
        view: 'resourceTimeGridWeek', date: monday, firstDay: 1, allDaySlot: false, datesAboveResources: true,
        height: '78vh', slotDuration: {minutes: answer.slot_minutes}, slotMinTime: answer.day_starts,
        slotMaxTime: answer.day_ends, resources: answer.resources.map((r) => ({id: String(r.id), title: r.title})),
        events: [], eventAllUpdated: () => { if (given) resolve(performance.now() - given); },
    });
    setTimeout(() => { given = performance.now(); calendar.setOption('events', events); }, 100);
})"""


def library_floor(page, base: str, location, monday, runs: int) -> list[float]:
    """Milliseconds EventCalendar alone takes to draw the same answer's sessions (``runs`` times)."""
    answer = page.request.get(f"{base}/api/v1/calendar/?location={location.pk}&start={monday.isoformat()}"
                              f"&end={(monday + timedelta(days=7)).isoformat()}&by=room").json()
    times = []
    for run in range(runs + 1):
        page.set_content(FLOOR_PAGE.format(base=base))
        took = page.evaluate(FLOOR_SCRIPT, [answer, monday.isoformat()])
        if run:
            times.append(took)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="ionto_bench_calendar", help="a bench database made by bench.seed")
    parser.add_argument("--runs", type=int, default=11, help="timed page loads after one warm-up")
    parser.add_argument("--seed", action="store_true",
                        help="make the database first: 1 location, 5,000 patients, 20,000 appointments")
    args = parser.parse_args()
    if args.seed:  # in a process of its own: it sets Django up against the database it makes
        subprocess.run([sys.executable, "-m", "bench.seed", "--database", args.database, "--locations", "1",
                        "--patients", "5000", "--appointments", "20000"], check=True)
    figures = measure(args.database, args.runs)
    labels = {"draw": "calendar week: data answered to every session drawn",
              "load": "calendar week: data asked to every session drawn",
              "page": "calendar week: page opened to every session drawn",
              "library": "calendar week: EventCalendar alone, same sessions"}
    rows = {}
    for key, label in labels.items():
        median = statistics.median(figures[key])
        goal = f" (goal < {GOAL_DRAW_MS:.0f} ms)" if key == "draw" else ""
        print(f"{label:55} median {median:7.1f} ms  min {min(figures[key]):7.1f}  max {max(figures[key]):7.1f}{goal}")
        rows[label] = round(median, 1)
    emit(rows)


if __name__ == "__main__":
    main()
