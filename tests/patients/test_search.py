"""The global patient search (patients.selectors.patient_search): what it matches and whom it shows."""

from __future__ import annotations

from datetime import date

import pytest

from patients import services
from patients.selectors import FirstMatches, patient_search
from tests.conftest import made_once
from tests.factories import make_clinic, make_patient

pytestmark = pytest.mark.django_db


def make_people():
    own, other = make_clinic(), make_clinic()
    return {
        "own": own,
        "imogen": make_patient(own, first_name="Imogen", last_name="Hartley", email="imogen@example.org",
                               phone="+44 7700 900777", date_of_birth=date(1979, 3, 8)),
        "ivan": make_patient(own, first_name="Ivan", last_name="Hart", email="ivan@example.org",
                             phone="(020) 7946-0123", date_of_birth=date(1961, 11, 30)),
        "elsewhere": make_patient(other, first_name="Imogen", last_name="Hartley", phone="+44 7700 900777"),
    }


rows_made_once, people = made_once(make_people)  # each test rolled back to the rows made once


@pytest.mark.parametrize(("query", "expected"), [
    ("hart", ["ivan", "imogen"]),
    ("imogen hart", ["imogen"]),
    ("IVAN@EXAMPLE", ["ivan"]),
    ("07700 900777", ["imogen"]),  # the national number finds the international one
    ("0 7 7 0 0 9 0 0 7 7 7", ["imogen"]),
    ("+447700900777", ["imogen"]),
    ("44-7700-900-777", ["imogen"]),
    ("020 7946 0123", ["ivan"]),
    ("79460123", ["ivan"]),
    ("1979-03-08", ["imogen"]),
    ("08/03/1979", ["imogen"]),
    ("30/11/1961 hart", ["ivan"]),
    ("nobody", []),
    ("   ", []),
])
def test_search_matches_names_email_phone_in_any_spacing_and_both_date_formats(people, query, expected):
    user = people["own"].front_desk.user
    assert list(patient_search(user=user, query=query)) == [people[name] for name in expected]


def test_search_shows_only_the_patients_the_user_sees_and_archived_ones_on_request(people):
    own = people["own"]
    manager_sees = patient_search(user=own.manager.user, query="07700900777")
    assert set(manager_sees) == {people["imogen"], people["elsewhere"]}  # a manager sees every location
    services.patient_archive(patient=people["imogen"], archived_by=own.manager.user)
    assert list(patient_search(user=own.front_desk.user, query="imogen")) == []
    assert list(patient_search(user=own.front_desk.user, query="imogen", include_archived=True)) == [
        people["imogen"]]


def test_admin_search_page_lists_the_visible_matches_with_their_date_of_birth(client, people):
    own = people["own"]
    client.force_login(own.front_desk.user)
    page = client.get("/admin/patients/patient/search/", {"q": "0770 0900 777"}).content.decode()
    assert page.count("Hartley, Imogen") == 1
    assert "08 Mar 1979" in page
    assert 'value="0770 0900 777"' in page  # the box on every page keeps what was searched
    empty = client.get("/admin/patients/patient/search/", {"q": "zz"}).content.decode()
    assert "No patient you can see matches zz." in empty


def test_admin_search_page_needs_the_patient_view_permission(client, people, django_user_model):
    outsider = django_user_model.objects.create_user("outsider", password="correct horse 42", is_staff=True)
    client.force_login(outsider)
    assert client.get("/admin/patients/patient/search/", {"q": "hart"}).status_code == 403


def test_search_results_come_in_name_order_regardless_of_case_in_every_entry_point(client, people):
    """The global search, the API's ``search`` and the admin list's search give one order (SEARCH_ORDER):
    by name whatever its case, then date of birth."""
    own = people["own"]
    for first_name, last_name, born in (("Dora", "dawson", date(1990, 1, 1)), ("Dan", "Davies", date(1980, 1, 1)),
                                        ("Dee", "Dean", date(1970, 1, 1)), ("Dan", "Davies", date(1975, 1, 1))):
        make_patient(own, first_name=first_name, last_name=last_name, date_of_birth=born,
                     email=f"{first_name}.{born.year}@example.org".lower())
    expected = [("Davies", date(1975, 1, 1)), ("Davies", date(1980, 1, 1)), ("dawson", date(1990, 1, 1)),
                ("Dean", date(1970, 1, 1))]
    user = own.front_desk.user
    found = [(p.last_name, p.date_of_birth) for p in patient_search(user=user, query="d")]
    assert found == expected
    client.force_login(user)
    answer = client.get("/api/v1/patients/", {"search": "d"}).json()
    assert [(p["last_name"], date.fromisoformat(p["date_of_birth"])) for p in answer["results"]] == expected
    page = client.get("/admin/patients/patient/", {"q": "d"}).content.decode()
    places = [page.index(name) for name in ("Davies, Dan", "dawson, Dora", "Dean, Dee")]
    assert places == sorted(places)


def test_api_search_counts_and_pages_only_its_first_matches(client, people, monkeypatch):
    """A search is counted up to ``FirstMatches.limit`` matches (one more tells that more match), without
    sorting them; the pages stop there, in SEARCH_ORDER, and ``more_matches`` says so. A list without a
    search is counted in full."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(FirstMatches, "limit", 3)
    own = people["own"]
    for first_name in ("Eve", "Cal", "Ann", "Bea", "Dot"):
        make_patient(own, first_name=first_name, last_name="Dale", email=f"{first_name.lower()}.dale@example.org")
    client.force_login(own.front_desk.user)

    with CaptureQueriesContext(connection) as queries:
        first = client.get("/api/v1/patients/", {"search": "dale", "page_size": 2}).json()
    assert (first["count"], first["more_matches"]) == (3, True)
    assert [p["first_name"] for p in first["results"]] == ["Ann", "Bea"]
    counted = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"]]
    assert len(counted) == 1 and "LIMIT 4" in counted[0] and "ORDER BY" not in counted[0]
    second = client.get(first["next"]).json()
    assert [p["first_name"] for p in second["results"]] == ["Cal"]
    assert second["next"] is None and second["more_matches"] is True
    assert client.get("/api/v1/patients/", {"search": "dale", "page_size": 2, "page": 3}).status_code == 404

    few = client.get("/api/v1/patients/", {"search": "dale bea"}).json()
    assert (few["count"], few["more_matches"], len(few["results"])) == (1, False, 1)
    everyone = client.get("/api/v1/patients/", {"page_size": 2}).json()
    assert (everyone["count"], everyone["more_matches"]) == (7, False)  # Imogen, Ivan and the five Dales


def test_admin_patient_list_search_lists_the_same_first_matches_and_says_more_match(client, people, monkeypatch):
    from django.contrib import admin

    from patients.models import Patient

    monkeypatch.setattr(FirstMatches, "limit", 3)
    monkeypatch.setattr(admin.site.get_model_admin(Patient), "list_per_page", 2)  # fewer than the limit, as 100 < 1,000
    own = people["own"]
    for first_name in ("Eve", "Cal", "Ann", "Bea", "Dot"):
        make_patient(own, first_name=first_name, last_name="Dale")
    client.force_login(own.front_desk.user)
    names = ("Dale, Ann", "Dale, Bea", "Dale, Cal", "Dale, Dot", "Dale, Eve")
    first = client.get("/admin/patients/patient/", {"q": "dale"}).content.decode()
    assert "More than 3 patients match: the first 3 are listed." in first
    assert [name in first for name in names] == [True, True, False, False, False]
    second = client.get("/admin/patients/patient/", {"q": "dale", "p": 2}).content.decode()
    assert [name in second for name in names] == [False, False, True, False, False]
    assert client.get("/admin/patients/patient/", {"q": "dale", "p": 3}).status_code == 302  # no such page
    few = client.get("/admin/patients/patient/", {"q": "dale ann"}).content.decode()
    assert "Dale, Ann" in few and "patients match" not in few
