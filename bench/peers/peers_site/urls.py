from django.urls import include, path

from peers_site import views

urlpatterns = [
    path("schedule/", include("schedule.urls")),
    path("appointment/", include("appointment.urls")),
    path("bench/appointment-week/", views.appointment_week_slots),
]
