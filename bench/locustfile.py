"""Locust users for the API scenarios (``bench.run`` starts ``locust --headless`` with this file).

Environment: BENCH_PLAN (the plan JSON of ``python -m bench.api prepare``), BENCH_SCENARIO (one of
bench.scenarios.SCENARIOS, or several with commas: each user then takes them in turn), BENCH_TOKEN
(a bearer token of the plan's manager) and BENCH_OUT (where every request's time is written at the
end, so percentiles are exact rather than locust's rounded ones). Every user keeps asking without
pause, unless BENCH_THINK ("0.5,1.5") gives each user a pause between requests of that many
seconds, like a person reading the answer; in ``book_cancel`` each user has a lane of its own (a
course and a free time nobody else uses), books it and cancels it again.
"""

from __future__ import annotations

import itertools
import json
import os
import time

from locust import FastHttpUser, between, constant, events, task

from bench.scenarios import BOOK_CANCEL, BOOK_PATH, CANCEL_BODY, book_body, cancel_path, read_path

PLAN = json.loads(open(os.environ["BENCH_PLAN"]).read())  # noqa: SIM115
SCENARIOS = os.environ["BENCH_SCENARIO"].split(",")
HEADERS = {"Authorization": f"Bearer {os.environ['BENCH_TOKEN']}", "Accept": "application/json"}
THINK = [float(seconds) for seconds in os.environ.get("BENCH_THINK", "").split(",") if seconds]
_lanes = itertools.count()
_times: dict[str, list[float]] = {}
_failures: dict[str, list[str]] = {}
_window = {"first": None, "last": None}


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception, **kwargs):
    now = time.monotonic()
    _window["first"] = _window["first"] or now - response_time / 1000
    _window["last"] = now
    if exception is not None:
        _failures.setdefault(name, []).append(str(exception)[:200])
    else:
        _times.setdefault(name, []).append(response_time)


@events.quitting.add_listener
def _write(environment, **kwargs):
    seconds = (_window["last"] - _window["first"]) if _window["first"] else 0.0
    with open(os.environ["BENCH_OUT"], "w") as handle:
        json.dump({"scenarios": SCENARIOS, "seconds": seconds, "times_ms": _times,
                   "failures": {name: {"count": len(found), "first": found[:3]} for name, found in _failures.items()}},
                  handle)


class ApiUser(FastHttpUser):
    """One member of staff asking the scenario's question as fast as the server answers (or pausing
    between questions with BENCH_THINK)."""

    wait_time = between(*THINK) if THINK else constant(0)

    def on_start(self):
        lanes = PLAN["lanes"]
        number = next(_lanes)
        self.lane = lanes[number % len(lanes)]
        # Users start at different questions, so a short run of several still asks each of them.
        self.turns = itertools.cycle(SCENARIOS[number % len(SCENARIOS):] + SCENARIOS[:number % len(SCENARIOS)])
        if THINK:
            # People do not all ask in the same millisecond: without this pause the 16 users' first
            # requests arrive at once and queue behind each other, a burst no front desk makes.
            self.wait()

    @task
    def ask(self):
        scenario = next(self.turns)
        if scenario != BOOK_CANCEL:
            with self.client.get(read_path(PLAN, scenario), headers=HEADERS, name=scenario,
                                 catch_response=True) as response:
                if response.status_code != 200:
                    response.failure(f"{response.status_code}: {response.text[:200]}")
            return
        with self.client.post(BOOK_PATH, json=book_body(self.lane), headers=HEADERS, name="book",
                              catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            appointment = response.json()["id"]
        with self.client.post(cancel_path(appointment), json=CANCEL_BODY, headers=HEADERS, name="cancel",
                              catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
