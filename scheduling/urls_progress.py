"""Clinicians' progress pages and exports, mounted under /clinician/ (namespace "progress")."""

from django.urls import path

from scheduling import progress_views

app_name = "progress"

urlpatterns = [
    path("", progress_views.dashboard_page, name="dashboard"),
    path("courses/<int:course_id>/", progress_views.course_progress_page, name="course"),
    path("courses/<int:course_id>/sessions.csv", progress_views.course_csv_download, name="course_csv"),
    path("courses/<int:course_id>/fhir.json", progress_views.course_fhir_download, name="course_fhir"),
]
