"""The front desk's waitlist screens: add from the patient page, the list per location, offer a time by hand."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from scheduling.waitlist.models import WaitlistEntry, WaitlistEntryStatus, WaitlistOffer
from scheduling.waitlist.services import waitlist_entry_create
from tests.factories import book, make_clinic, make_course, next_weekday

pytestmark = pytest.mark.django_db


def booked(clinic, weeks_ahead=2):
    course = make_course(clinic)
    return book(clinic, course, clinic.at(next_weekday(3, weeks_ahead=weeks_ahead), 10))


def test_the_desk_adds_an_entry_from_the_patients_upcoming_sessions(desk, clinic):
    session = booked(clinic)
    page = desk.get(f"/admin/patients/patient/{session.patient_id}/change/").content.decode()
    link = f"/admin/scheduling/waitlistentry/add/?course={session.course_id}&amp;appointment={session.pk}"
    assert link in page
    form = desk.get(link.replace("&amp;", "&"))
    assert form.status_code == 200
    assert str(session) in form.content.decode()  # the session is chosen already
    until = (session.local_date - timedelta(days=1)).isoformat()
    answer = desk.post("/admin/scheduling/waitlistentry/add/", {
        "course": session.course_id, "appointment": session.pk, "weekdays": ["0", "4"], "earliest": "09:00",
        "latest": "12:00", "until": until, "_save": "Save"})
    assert answer.status_code == 302, answer.content.decode()[:3000]
    entry = WaitlistEntry.objects.get()
    assert (entry.weekdays, entry.created_by, entry.appointment_id) == ([0, 4], clinic.front_desk.user, session.pk)
    again = desk.post("/admin/scheduling/waitlistentry/add/", {
        "course": session.course_id, "weekdays": ["0"], "earliest": "12:00", "latest": "09:00", "until": until,
        "_save": "Save"})
    assert again.status_code == 200
    assert "The latest time must be after the earliest." in again.content.decode()


def test_the_list_shows_the_users_locations_only_with_the_offers_sent(desk, clinic):
    mine = booked(clinic)
    other_clinic = make_clinic(name="Elsewhere")
    theirs = booked(other_clinic)
    for session, who in ((mine, clinic.front_desk.user), (theirs, other_clinic.front_desk.user)):
        waitlist_entry_create(course=session.course, appointment=session, weekdays=[0, 1, 2], earliest=time(8),
                              latest=time(20), until=session.local_date, created_by=who)
    page = desk.get("/admin/scheduling/waitlistentry/").content.decode()
    assert str(mine.patient) in page
    assert str(theirs.patient) not in page
    foreign = WaitlistEntry.objects.get(course=theirs.course)
    assert desk.get(f"/admin/scheduling/waitlistentry/{foreign.pk}/offer/").status_code == 404


def test_the_desk_offers_a_time_by_hand_and_sees_it_on_the_entry(desk, clinic):
    session = booked(clinic)
    entry = waitlist_entry_create(course=session.course, appointment=session, weekdays=[0], earliest=time(8),
                                  latest=time(20), until=session.local_date, created_by=None)
    change = desk.get(f"/admin/scheduling/waitlistentry/{entry.pk}/change/").content.decode()
    assert f"/admin/scheduling/waitlistentry/{entry.pk}/offer/" in change
    monday = next_weekday(0)
    sunday = {"day": (monday + timedelta(days=6)).isoformat(), "time": "11:00", "clinician": clinic.clinician.pk,
              "room": clinic.room.pk, "device": clinic.device.pk}
    refused = desk.post(f"/admin/scheduling/waitlistentry/{entry.pk}/offer/", sunday)
    assert refused.status_code == 200
    assert "The course&#x27;s rules or the calendar do not allow this time." in refused.content.decode()
    sent = desk.post(f"/admin/scheduling/waitlistentry/{entry.pk}/offer/", {**sunday, "day": monday.isoformat()})
    assert sent.status_code == 302
    offer = WaitlistOffer.objects.get()
    assert (offer.slot.starts_at, offer.slot.offered_by) == (clinic.at(monday, 11), clinic.front_desk.user)
    change = desk.get(f"/admin/scheduling/waitlistentry/{entry.pk}/change/").content.decode()
    assert "offers sent" in change.lower()
    assert "1 sent" in desk.get("/admin/scheduling/waitlistentry/").content.decode()
    assert desk.get("/admin/scheduling/waitlistoffer/").status_code == 200

    desk.post("/admin/scheduling/waitlistentry/", {"action": "take_off", "_selected_action": [entry.pk]})
    entry.refresh_from_db()
    offer.refresh_from_db()
    assert (entry.status, offer.status) == (WaitlistEntryStatus.CANCELLED, "withdrawn")
