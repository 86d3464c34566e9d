"""Defect 7 of issue 20: several side effects per session, each with its grade; a grade without its
effect is refused, never dropped."""

from datetime import timedelta

import pytest
import time_machine

from scheduling.models import SessionRecord
from tests.factories import book, make_course, next_weekday

pytestmark = pytest.mark.django_db

FORM = {"minutes_of_current": 20, "waveform": "dc", "medium": "tap", "palms_ma": "12.5", "hdss": 3, "_save": "Save"}


def post_record(client, clinic, **fields):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(1), 10))
    with time_machine.travel(appointment.ends_at + timedelta(minutes=5), tick=False):
        client.force_login(clinic.clinician.user)
        return client.post("/admin/scheduling/sessionrecord/add/", {"appointment": appointment.pk, **FORM, **fields})


def test_a_clinician_records_tingling_and_dryness_each_with_its_grade(client, clinic):
    response = post_record(client, clinic, tingling_grade="1", dryness_grade="2", other_effect="Warmth",
                           other_effect_grade="1")
    assert response.status_code == 302, response.content.decode()[:3000]
    effects = SessionRecord.objects.get().side_effects.all()
    assert sorted((e.kind, e.kind_other, e.grade) for e in effects) == [
        ("dryness", "", 2), ("other", "Warmth", 1), ("tingling", "", 1)]


def test_a_grade_without_its_side_effect_is_refused_and_nothing_is_saved(client, clinic):
    response = post_record(client, clinic, other_effect_grade="2")
    assert response.status_code == 200
    assert "Say what the other side effect was, or leave its grade empty." in response.content.decode()
    assert not SessionRecord.objects.exists()


def test_a_named_other_effect_without_a_grade_is_refused(client, clinic):
    response = post_record(client, clinic, other_effect="Warmth")
    assert response.status_code == 200
    assert "Give the grade (1-3) of the other side effect." in response.content.decode()
    assert not SessionRecord.objects.exists()


def test_the_form_names_each_effect_and_grade_in_the_clinics_words(client, clinic):
    client.force_login(clinic.clinician.user)
    page = client.get("/admin/scheduling/sessionrecord/add/").content.decode()
    for label in ("Tingling (grade 1-3)", "Blistering (grade 1-3)", "Other side effect: what",
                  "HDSS (1-4)", "Pain (0-10)", "Dose (mA·min)", "Minutes of current"):
        assert label in page, label
