"""Times are stored in UTC and kept as the location's wall-clock time across daylight-saving changes."""

from datetime import UTC, date, datetime, time

import pytest

from tests.factories import book, make_clinic, make_course

pytestmark = pytest.mark.django_db

# Europe/London leaves GMT for BST on Sunday 28 March 2027.
FRIDAY_BEFORE = date(2027, 3, 26)
MONDAY_AFTER = date(2027, 3, 29)


def test_a_0900_session_stays_0900_local_across_the_spring_change():
    clinic = make_clinic(time_zone="Europe/London")
    course = make_course(clinic)
    before = book(clinic, course, clinic.at(FRIDAY_BEFORE, 9))
    after = book(clinic, course, clinic.at(MONDAY_AFTER, 9))
    before.refresh_from_db()
    after.refresh_from_db()
    assert before.starts_at == datetime(2027, 3, 26, 9, 0, tzinfo=UTC)
    assert after.starts_at == datetime(2027, 3, 29, 8, 0, tzinfo=UTC)
    assert [clinic.location.local(a.starts_at).time() for a in (before, after)] == [time(9), time(9)]
    assert [a.local_date for a in (before, after)] == [FRIDAY_BEFORE, MONDAY_AFTER]


def test_two_locations_in_different_zones_keep_their_own_local_day():
    auckland = make_clinic(time_zone="Pacific/Auckland")
    course = make_course(auckland)
    # 08:30 on a Monday in Auckland is still Sunday in UTC: the course's day is Auckland's Monday.
    appointment = book(auckland, course, auckland.at(MONDAY_AFTER, 8, 30))
    assert appointment.starts_at.astimezone(UTC).date() == date(2027, 3, 28)
    assert appointment.local_date == MONDAY_AFTER
    assert str(appointment).endswith("Mon 29 Mar 2027 08:30 NZDT (Booked)")
