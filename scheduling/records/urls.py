"""Clinicians' progress pages and exports, mounted under /clinician/ (namespace "progress")."""

from django.urls import path

from scheduling.records.views import course_csv_download, course_fhir_download, course_progress_page, dashboard_page

app_name = "progress"

urlpatterns = [
    path("", dashboard_page, name="dashboard"),
    path("courses/<int:course_id>/", course_progress_page, name="course"),
    path("courses/<int:course_id>/sessions.csv", course_csv_download, name="course_csv"),
    path("courses/<int:course_id>/fhir.json", course_fhir_download, name="course_fhir"),
]
