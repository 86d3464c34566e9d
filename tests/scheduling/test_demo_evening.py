"""The demo loaded at 19:00 UTC, in a module of its own: tests/scheduling/test_demo.py keeps one loaded at 08:00
for all its tests, and a second load there would find it and change nothing."""

import pytest
import time_machine

from clinic.models import Location
from scheduling import demo
from tests.scheduling.test_demo import assert_today_has_sessions_to_mark_arrived_and_as_no_shows, utc_today_at

pytestmark = pytest.mark.django_db


def test_the_demos_today_has_sessions_to_mark_arrived_and_as_no_shows_at_each_location_at_19_utc(tmp_path,
                                                                                                  monkeypatch):
    monkeypatch.setattr(demo, "LOGINS_FILE", tmp_path / "demo-logins.txt")
    with time_machine.travel(utc_today_at(19), tick=False):
        assert not Location.objects.exists()
        demo.demo_load()
        assert_today_has_sessions_to_mark_arrived_and_as_no_shows()
