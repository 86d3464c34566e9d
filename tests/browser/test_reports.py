"""A manager opens the reports in Chromium (charts over their tables, on screen and in print); the front desk
is refused."""

from __future__ import annotations

import pytest

from tests.browser_support import login, screenshot
from tests.scheduling.report_clinics import END, START, attendance_clinic

pytestmark = pytest.mark.django_db(transaction=True)


def test_manager_reads_the_reports_and_front_desk_is_refused(page, live_server):
    clinic, _ = attendance_clinic()
    login(page, live_server, clinic.manager.user.username, "correct horse 42")
    page.click("nav.ionto-nav >> text=Reports")
    page.wait_for_url(f"{live_server.url}/clinician/reports/utilization/")
    page.fill("#id_start", START.isoformat())
    page.fill("#id_end", END.isoformat())
    page.select_option("#id_location", str(clinic.location.pk))
    page.click("text=Show")
    page.wait_for_url("**/clinician/reports/utilization/?*")
    assert page.locator("#period-summary").inner_text().startswith("Mon 19 Oct 2026 to Sun 1 Nov 2026, Riverside")
    charts = page.locator("svg.chart")
    assert charts.count() == 2
    box = charts.first.bounding_box()
    assert box["width"] > 700 and box["height"] > 200
    assert page.locator("svg.chart rect.bar").count() == 4  # booked and fulfilled, two weeks
    assert page.locator("#heat-table tbody tr").nth(0).inner_text().split()[:3] == ["Mon", "2", "0"]
    assert page.locator("#utilization-room tbody tr").count() == 6  # two rooms: the period and two weeks each
    screenshot(page, "reports-utilization")

    page.click("nav.tabs >> text=Attendance")
    page.wait_for_url("**/clinician/reports/attendance/?*")
    assert page.locator("#attendance-weekly tbody tr").last.inner_text().split("\t") == [
        "All", "9", "4", "3", "2", "1", "33.3", "11.1"]
    assert page.locator("#repeat-noshows tbody").inner_text().strip() == "Ada Often\t2"
    screenshot(page, "reports-attendance")
    page.emulate_media(media="print")
    assert page.locator("form.period").is_hidden() and page.locator("svg.chart").is_visible()
    screenshot(page, "reports-attendance-print")
    page.emulate_media(media="screen")
    with page.expect_download() as download:
        page.click("#csv-link")
    assert download.value.suggested_filename == "attendance-20261019-20261101.csv"

    page.context.clear_cookies()
    login(page, live_server, clinic.front_desk.user.username, "correct horse 42")
    assert page.locator("nav.ionto-nav >> text=Reports").count() == 0
    response = page.goto(f"{live_server.url}/clinician/reports/attendance/")
    assert response.status == 403
    assert page.locator("#refused").inner_text() == (
        "Only managers see the reports. Ask a manager of the clinic if you need a figure.")
    screenshot(page, "reports-refused-front-desk")
