"""The API questions of the benchmark, as paths built from a plan (``python -m bench.api prepare``).

Shared by the load generator (bench/locustfile.py), the query counter and the single-user timing,
so all of them ask exactly the same thing. Stdlib only.
"""

from __future__ import annotations

from urllib.parse import urlencode

API = "/api/v1"
# The read scenarios, in table order; booking and cancelling are one scenario of two requests.
READS = ("day_schedule", "clinician_week", "patient_search", "availability_week", "course_progress")
BOOK_CANCEL = "book_cancel"
SCENARIOS = (*READS, BOOK_CANCEL)
LABELS = {
    "day_schedule": "day schedule of a location",
    "clinician_week": "appointments of a clinician's week",
    "patient_search": "patient search by name prefix",
    "availability_week": "availability of a location's week",
    "course_progress": "a course's progress",
    "book": "book an appointment",
    "move": "move an appointment",
    "cancel": "cancel an appointment",
}
# A whole day or week fits one page: the schedule is read with one request.
PAGE = 500


def read_path(plan: dict, scenario: str) -> str:
    if scenario == "day_schedule":
        query = {"location": plan["location"], "start": plan["day_start"], "end": plan["day_end"], "page_size": PAGE}
        return f"{API}/appointments/?{urlencode(query)}"
    if scenario == "clinician_week":
        query = {"clinician": plan["clinician"], "start": plan["week_start"], "end": plan["week_end"],
                 "page_size": PAGE}
        return f"{API}/appointments/?{urlencode(query)}"
    if scenario == "patient_search":
        return f"{API}/patients/?{urlencode({'search': plan['patient_prefix']})}"
    if scenario == "availability_week":
        query = {"location": plan["location"], "start": plan["week_first_day"], "end": plan["week_next_monday"],
                 "minutes": 30}
        return f"{API}/availability/?{urlencode(query)}"
    if scenario == "course_progress":
        return f"{API}/courses/{plan['course']}/progress/"
    raise ValueError(f"unknown scenario {scenario!r}")


def book_body(lane: dict) -> dict:
    return {key: lane[key] for key in ("course", "clinician", "room", "device", "starts_at")}


BOOK_PATH = f"{API}/appointments/"
CANCEL_BODY = {"by": "clinic", "reason": "Benchmark: booked and cancelled again"}


def cancel_path(appointment_id: int) -> str:
    return f"{API}/appointments/{appointment_id}/cancel/"


def move_path(appointment_id: int) -> str:
    return f"{API}/appointments/{appointment_id}/move/"
