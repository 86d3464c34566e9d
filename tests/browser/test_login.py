import pytest

from tests.browser_support import login, screenshot
from tests.factories import make_clinic

pytestmark = pytest.mark.django_db(transaction=True)


def test_front_desk_signs_in_to_the_branded_admin(page, live_server):
    clinic = make_clinic()
    login(page, live_server, clinic.front_desk.user.username, "correct horse 42")
    assert page.locator("#site-name").inner_text() == "Ionto"
    screenshot(page, "admin-home")
