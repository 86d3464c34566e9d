"""Defect 9 of issue 20: an action that fails keeps the user on the session's page with the message,
and the page offers only the actions that can apply now."""

from datetime import timedelta

import pytest
import time_machine

from scheduling.booking.services import appointment_mark_arrived
from scheduling.desk.selectors import day_schedule_url
from tests.factories import book, make_course, next_weekday

pytestmark = pytest.mark.django_db


@pytest.fixture
def future(clinic):
    return book(clinic, make_course(clinic), clinic.at(next_weekday(2), 9))


@pytest.mark.parametrize(("action", "form", "message"), [
    ("arrived", {}, "arrivals are marked on the day."),
    ("noshow", {}, "A session can be marked as a no-show only once its start time has passed."),
    ("cancel", {"cancelled_by": "patient", "reason": ""}, "Reason: Give a reason for the cancellation."),
])
def test_a_refused_action_stays_on_the_session_page_with_the_message(desk, clinic, future, action, form, message):
    back = day_schedule_url(location_id=clinic.location.pk, day=future.local_date)
    response = desk.post(f"/admin/scheduling/appointment/{future.pk}/act/{action}/",
                         {**form, "next": back, "version": future.version}, follow=True)
    final_url, _ = response.redirect_chain[-1]
    assert final_url.startswith(f"/admin/scheduling/appointment/{future.pk}/change/")
    page = response.content.decode()
    assert message in page
    assert f'href="{back}"' in page.replace("&amp;", "&")  # the way back to the schedule is kept


def test_a_successful_action_goes_back_where_the_user_came_from(client, clinic):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(2), 9))
    back = day_schedule_url(location_id=clinic.location.pk, day=appointment.local_date)
    with time_machine.travel(appointment.starts_at - timedelta(minutes=10), tick=False):
        client.force_login(clinic.front_desk.user)
        response = client.post(f"/admin/scheduling/appointment/{appointment.pk}/act/arrived/",
                               {"next": back, "version": appointment.version})
    assert response.status_code == 302 and response["Location"] == back


def test_the_page_shows_only_the_actions_that_apply_now(client, clinic, future):
    client.force_login(clinic.front_desk.user)
    page = client.get(f"/admin/scheduling/appointment/{future.pk}/change/").content.decode()
    assert 'id="action-cancel"' in page and 'id="action-move"' in page
    assert 'id="action-arrived"' not in page and 'id="action-noshow"' not in page
    assert 'id="action-record"' not in page
    with time_machine.travel(future.starts_at + timedelta(minutes=1), tick=False):
        appointment_mark_arrived(appointment=future, marked_by=clinic.front_desk.user)
        desk_page = client.get(f"/admin/scheduling/appointment/{future.pk}/change/").content.decode()
        client.force_login(clinic.clinician.user)
        clinician_page = client.get(f"/admin/scheduling/appointment/{future.pk}/change/").content.decode()
    for page in (desk_page, clinician_page):
        assert 'id="action-arrived"' not in page and 'id="action-noshow"' not in page
        assert 'id="action-move"' not in page
    assert 'id="action-record"' not in desk_page  # the front desk records no sessions
    assert 'id="action-record"' in clinician_page
    assert f"/admin/scheduling/sessionrecord/add/?appointment={future.pk}" in clinician_page
