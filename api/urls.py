from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from api import auth_views, clinic_views, patient_views, progress, reports, scheduling_views, views, waitlist_views

app_name = "api"

router = SimpleRouter()
router.register("locations", clinic_views.LocationViewSet, basename="location")
router.register("rooms", clinic_views.RoomViewSet, basename="room")
router.register("devices", clinic_views.DeviceViewSet, basename="device")
router.register("clinicians", clinic_views.ClinicianViewSet, basename="clinician")
router.register("opening-hours", clinic_views.OpeningHoursViewSet, basename="opening-hours")
router.register("working-hours", clinic_views.WorkingHoursViewSet, basename="working-hours")
router.register("closures", clinic_views.ClosureViewSet, basename="closure")
router.register("patients", patient_views.PatientViewSet, basename="patient")
router.register("screenings", patient_views.ScreeningViewSet, basename="screening")
router.register("courses", scheduling_views.CourseViewSet, basename="course")
router.register("appointments", scheduling_views.AppointmentViewSet, basename="appointment")
router.register("session-records", scheduling_views.SessionRecordViewSet, basename="session-record")
router.register("notifications", scheduling_views.NotificationViewSet, basename="notification")
router.register("waitlist-entries", waitlist_views.WaitlistEntryViewSet, basename="waitlist-entry")
router.register("waitlist-offers", waitlist_views.WaitlistOfferViewSet, basename="waitlist-offer")

urlpatterns = [
    path("health/", views.HealthView.as_view(), name="health"),
    path("courses/<int:course_id>/progress/", progress.CourseProgressView.as_view(), name="course-progress"),
    *(route for name in ("utilization", "attendance", "outcomes", "reminders") for route in (
        path(f"reports/{name}/", getattr(reports, f"{name.title()}ReportView").as_view(), name=f"report-{name}"),
        path(f"reports/{name}/csv/", getattr(reports, f"{name.title()}ReportCSVView").as_view(),
             name=f"report-{name}-csv"),
    )),
    path("auth/token/", auth_views.TokenView.as_view(), name="token"),
    path("availability/", scheduling_views.AvailabilityView.as_view(), name="availability"),
    path("calendar/", scheduling_views.CalendarView.as_view(), name="calendar"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    *router.urls,
    # Anything else under /api/v1/ answers 404 in the API's error shape, not Django's HTML page.
    re_path(r"^[\s\S]*$", views.not_found, name="not-found"),
]
