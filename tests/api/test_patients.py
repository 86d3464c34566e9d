"""Patients through the API: search, archive and restore, and what each role sees of them."""

from __future__ import annotations

from datetime import date

import pytest

from tests.api.conftest import make_world
from tests.conftest import made_once
from tests.factories import make_patient

pytestmark = pytest.mark.django_db


rows_made_once, world = made_once(make_world)  # the two clinics, each test rolled back to them


@pytest.fixture
def patients(world):
    return {
        "ada": make_patient(world.own, first_name="Ada", last_name="Lovelace", email="ada@example.org",
                            phone="+44 20 7000 1111", date_of_birth=date(1985, 12, 10)),
        "alan": make_patient(world.own, first_name="Alan", last_name="Turing", email="alan@example.org",
                             phone="+44 20 7000 2222", date_of_birth=date(1990, 6, 23)),
        "elsewhere": make_patient(world.other, first_name="Ada", last_name="Byron", email="byron@example.org"),
    }


@pytest.mark.parametrize(("search", "expected"), [
    ("ada", ["ada"]), ("love", ["ada"]), ("alan@", ["alan"]), ("2222", ["alan"]), ("1990-06-23", ["alan"]),
    ("10/12/1985", ["ada"]), ("a turing", ["alan"]),
])
def test_search_matches_name_email_phone_and_date_of_birth_at_own_locations(world, patients, as_role, search,
                                                                            expected):
    response = as_role("front_desk").get("/api/v1/patients/", {"search": search})
    assert [row["id"] for row in response.json()["results"]] == [patients[name].pk for name in expected]


def test_archived_patients_leave_the_list_until_restored(world, patients, as_role):
    client = as_role("front_desk")
    ada = patients["ada"].pk
    assert client.post(f"/api/v1/patients/{ada}/archive/").json()["archived_at"] is not None
    assert ada not in [row["id"] for row in client.get("/api/v1/patients/").json()["results"]]
    listed = client.get("/api/v1/patients/", {"include_archived": "true"}).json()["results"]
    assert ada in [row["id"] for row in listed]
    assert client.post(f"/api/v1/patients/{ada}/restore/").json()["archived_at"] is None
    assert ada in [row["id"] for row in client.get("/api/v1/patients/").json()["results"]]


def test_front_desk_gets_contact_data_and_clinicians_also_the_screening(world, patients, as_role):
    ada = patients["ada"].pk
    front_desk = as_role("front_desk").get(f"/api/v1/patients/{ada}/").json()
    clinician = as_role("clinician").get(f"/api/v1/patients/{ada}/").json()
    assert "screening" not in front_desk
    assert set(clinician) - set(front_desk) == {"screening"}
    assert clinician["screening"]["pacemaker"] is False
    assert clinician["screening"]["blocks_booking"] is False


def test_ordering_by_date_of_birth(world, patients, as_role):
    rows = as_role("front_desk").get("/api/v1/patients/", {"ordering": "-date_of_birth"}).json()["results"]
    assert [row["id"] for row in rows] == [patients["alan"].pk, patients["ada"].pk]


def test_the_schema_declares_the_empty_email_a_patient_without_one_gets(world, as_role):
    import jsonschema

    from patients.services import patient_register

    without = patient_register(first_name="No", last_name="Email", date_of_birth=date(1980, 1, 1),
                               registered_by=world.own.front_desk.user, preferred_location=world.own.location)
    answer = as_role("front_desk").get(f"/api/v1/patients/{without.pk}/").json()
    assert answer["email"] == ""
    schema = as_role("front_desk").get("/api/v1/schema/", {"format": "json"}).json()
    email = schema["components"]["schemas"]["Patient"]["properties"]["email"]
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    jsonschema.validate(answer["email"], email, format_checker=checker)
    jsonschema.validate("ann@example.org", email, format_checker=checker)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("not an address", email, format_checker=checker)
