import pytest

from tests.factories import make_clinic

pytestmark = pytest.mark.django_db


def test_pages_carry_a_content_security_policy_without_inline_scripts(client):
    clinic = make_clinic()
    client.force_login(clinic.front_desk.user)
    for url in ("/admin/login/", "/admin/"):
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in policy
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_json_answers_carry_no_page_policy(api_client):
    response = api_client.get("/api/v1/health/")
    assert "Content-Security-Policy" not in response
    assert response["Content-Type"] == "application/json"
