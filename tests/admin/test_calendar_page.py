"""The admin's calendar page: what it hands the browser, and to whom."""

from __future__ import annotations

import json

import pytest

from tests.factories import make_clinic, next_weekday

pytestmark = pytest.mark.django_db


def page_config(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="calendar-config" type="application/json">') + len(
        '<script id="calendar-config" type="application/json">')
    return json.loads(html[start:html.index("</script>", start)])


def test_calendar_page_opens_with_the_locations_columns_hours_and_zone(desk, clinic):
    monday = next_weekday(0)
    response = desk.get("/admin/scheduling/appointment/calendar/",
                        {"location": clinic.location.pk, "date": monday.isoformat(), "by": "device", "view": "day"})
    assert response.status_code == 200
    config = page_config(response)
    assert (config["location"], config["zone"], config["date"], config["by"], config["view"]) == (
        clinic.location.pk, "Europe/London", monday.isoformat(), "device", "resourceTimeGridDay")
    assert [r["id"] for r in config["resources"]] == [d.pk for d in clinic.devices]
    assert (config["dayStarts"], config["dayEnds"]) == ("08:00:00", "20:00:00")
    assert (config["canChange"], config["canBook"], config["canScreen"]) == (True, True, False)
    assert config["urls"]["api"] == "/api/v1/"
    html = response.content.decode()
    assert "Europe/London (GMT)" in html
    assert "/static/vendor/event-calendar/event-calendar.min.js" in html
    assert "cdn" not in html.lower()


def test_calendar_page_of_another_location_answers_404(desk):
    other = make_clinic()
    response = desk.get("/admin/scheduling/appointment/calendar/", {"location": other.location.pk})
    assert response.status_code == 404


def test_every_admin_page_has_the_calendar_link_and_the_patient_search(desk):
    html = desk.get("/admin/").content.decode()
    assert 'href="/admin/scheduling/appointment/calendar/"' in html
    assert 'action="/admin/patients/patient/search/"' in html
