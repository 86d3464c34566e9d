import pytest

from tests.browser_support import login, screenshot
from tests.factories import make_clinic

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_docs_render_offline_under_the_content_security_policy(page, live_server):
    clinic = make_clinic()
    blocked = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(live_server.url) and not request.url.startswith("data:") else None)
    login(page, live_server, clinic.manager.user.username, "correct horse 42")
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Ionto API" in page.locator(".swagger-ui .info .title").inner_text()
    assert blocked == []
    assert outside == []
    screenshot(page, "api-docs")
