"""Defect 1 of issue 20: a clinician records sessions of their own locations only."""

import re
from datetime import timedelta

import pytest
import time_machine

from scheduling.models import AppointmentStatus, SessionRecord
from tests.factories import book, make_clinic, make_course, next_weekday

pytestmark = pytest.mark.django_db


def test_the_record_form_offers_and_accepts_only_the_clinicians_locations(client):
    home, other = make_clinic(name="Northgate"), make_clinic(name="Southbank")
    day = next_weekday(1)
    mine = book(home, make_course(home), home.at(day, 10))
    theirs = book(other, make_course(other), other.at(day, 10))
    with time_machine.travel(theirs.ends_at + timedelta(minutes=5), tick=False):
        client.force_login(home.clinician.user)
        form = client.get("/admin/scheduling/sessionrecord/add/").content.decode()
        response = client.post("/admin/scheduling/sessionrecord/add/", {
            "appointment": theirs.pk, "minutes_of_current": 20, "waveform": "dc", "medium": "tap",
            "palms_ma": "25", "hdss": 3, "_save": "Save"})
    offered = re.search(r'<select name="appointment".*?</select>', form, re.S).group(0)
    assert f'value="{mine.pk}"' in offered
    assert f'value="{theirs.pk}"' not in offered
    assert response.status_code == 200
    page = response.content.decode()
    assert "Select a valid choice" in page
    assert "Southbank" not in page
    assert not SessionRecord.objects.exists()
    theirs.refresh_from_db()
    assert theirs.status == AppointmentStatus.BOOKED
