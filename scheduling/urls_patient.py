"""Pages that patients reach through signed links in their emails (no login)."""

from django.urls import path

from scheduling import patient_pages

app_name = "patient"

urlpatterns = [
    path("confirm/<str:token>/", patient_pages.appointment_confirm_page, name="confirm"),
    path("cancel/<str:token>/", patient_pages.appointment_cancel_page, name="cancel"),
    path("unsubscribe/<str:token>/", patient_pages.unsubscribe_page, name="unsubscribe"),
]
