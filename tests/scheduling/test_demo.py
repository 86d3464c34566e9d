import pytest

from clinic.models import Location, Staff
from patients.models import Patient
from scheduling import demo
from scheduling.models import Appointment, Course, SessionRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def logins_file(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "LOGINS_FILE", tmp_path / "demo-logins.txt")
    return tmp_path / "demo-logins.txt"


def test_demo_clinic_has_every_state_and_loads_once(logins_file):
    logins = demo.demo_load()
    assert [(username, role) for username, _password, role in logins] == [
        ("manager", "Manager"), ("frontdesk", "Front desk"), ("clinician", "Clinician")
    ]
    zones = set(Location.objects.values_list("time_zone", flat=True))
    assert zones == {"Europe/London", "America/Toronto"}
    assert Patient.objects.count() == 40
    assert Staff.objects.filter(role="clinician").count() == 4
    assert set(Course.objects.values_list("status", flat=True)) == {"planned", "active", "completed", "discontinued"}
    assert set(Course.objects.values_list("phase", flat=True)) == {"initial", "maintenance"}
    assert set(Appointment.objects.values_list("status", flat=True)) == {"booked", "fulfilled", "cancelled", "noshow"}
    assert Course.objects.filter(indication="musculoskeletal").exists()
    records = SessionRecord.objects.count()
    assert records > 100
    counts = (Patient.objects.count(), Appointment.objects.count(), records)
    again = demo.demo_load()
    assert (Patient.objects.count(), Appointment.objects.count(), SessionRecord.objects.count()) == counts
    assert again == logins
    assert logins_file.stat().st_mode & 0o777 == 0o600
