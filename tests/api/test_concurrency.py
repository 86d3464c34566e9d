"""Fifty front desks press "book" at the same moment, against a live server with real connections."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application

from api.services import token_issue
from scheduling.models import Appointment
from tests.factories import make_clinic, make_course, next_weekday

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS = 50


def _post_all_at_once(url: str, token: str, bodies: list[dict], keys: list[str]) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(len(bodies))
    answers: list[tuple[int, dict] | None] = [None] * len(bodies)

    def send(index: int) -> None:
        request = urllib.request.Request(  # noqa: S310  # our own live server over http
            url, data=json.dumps(bodies[index]).encode(), method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                     "Idempotency-Key": keys[index]},
        )
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310  # as above
                answers[index] = (response.status, json.loads(response.read()))
        except urllib.error.HTTPError as error:
            answers[index] = (error.code, json.loads(error.read()))

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert all(answer is not None for answer in answers)
    return answers


class WideServer(ThreadedWSGIServer):
    """Django's threaded test server with a listen backlog for fifty clients connecting at once."""

    request_queue_size = 128


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  # the standard library's name
        pass


@pytest.fixture
def wide_live_server():
    """A live server of the project: a thread per request, each with its own database connection."""
    server = WideServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
    server.set_app(get_wsgi_application())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def clinic():
    return make_clinic(name="Busy clinic", rooms=1, devices=1, clinicians=1)


def _body(clinic, course) -> dict:
    return {"course": course.pk, "clinician": clinic.clinician.pk, "room": clinic.room.pk,
            "device": clinic.device.pk, "starts_at": clinic.at(next_weekday(0), 10).isoformat()}


def test_fifty_bookings_of_one_slot_give_one_201_and_forty_nine_409(wide_live_server, clinic):
    courses = [make_course(clinic) for _ in range(REQUESTS)]
    token = token_issue(user=clinic.front_desk.user).token
    answers = _post_all_at_once(f"{wide_live_server.url}/api/v1/appointments/", token,
                                [_body(clinic, course) for course in courses],
                                [f"desk-{index}" for index in range(REQUESTS)])
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * (REQUESTS - 1)
    booked = Appointment.objects.get()
    winner = next(body for status, body in answers if status == 201)
    assert winner["id"] == booked.pk
    for status, body in answers:
        if status == 409:
            assert body["code"] in {"clinician_busy", "room_busy", "device_busy"}
            assert "10:00-10:30" in body["detail"]
            assert booked.patient.last_name not in body["detail"]


def test_fifty_identical_requests_with_one_idempotency_key_book_once_and_answer_alike(wide_live_server, clinic):
    course = make_course(clinic)
    token = token_issue(user=clinic.front_desk.user).token
    answers = _post_all_at_once(f"{wide_live_server.url}/api/v1/appointments/", token,
                                [_body(clinic, course)] * REQUESTS, ["one-key"] * REQUESTS)
    assert Appointment.objects.count() == 1
    assert {status for status, _ in answers} == {201}
    assert all(body == answers[0][1] for _, body in answers)
    assert answers[0][1]["id"] == Appointment.objects.get().pk
