"""The managers' reports, mounted under /clinician/reports/ (namespace "reports")."""

from django.urls import path

from scheduling.reports.views import report_csv_download, report_page, reports_index

app_name = "reports"

urlpatterns = [
    path("", reports_index, name="index"),
    path("<slug:name>/", report_page, name="report"),
    path("<slug:name>.csv", report_csv_download, name="csv"),
]
