from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Ionto"
admin.site.site_title = "Ionto"
admin.site.index_title = "Clinic"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("account/2fa/", include("clinic.two_factor")),
    path("api/v1/", include("api.urls")),
    path("p/", include("scheduling.reminders.urls")),
    path("clinician/reports/", include("scheduling.reports.urls")),
    path("clinician/", include("scheduling.records.urls")),
]
