"""Admin of patient messages (the notification outbox): what went out, what failed and why, resend.

Read-only: rows are written by the booking services and the beat. The one action queues failed
rows again through scheduling.reminders.outbox.notification_resend. Registered from scheduling.admin.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from clinic.admin import VisibleFilter
from clinic.display import location_time
from scheduling.booking.selectors import notifications_visible_to
from scheduling.models import Notification, NotificationStatus
from scheduling.reminders.outbox import notification_resend


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("due_local", "kind", "channel", "patient", "session_local", "status", "attempts", "error_short",
                    "sent_at", "delivery_status")
    list_filter = ("status", "kind", "channel", ("course__location", VisibleFilter))
    search_fields = ("patient__last_name", "patient__first_name", "patient__email", "message_id")
    list_select_related = ("patient", "appointment__location")
    date_hierarchy = "due_at"
    actions = ["resend"]
    readonly_fields = ("kind", "channel", "patient", "course", "appointment", "appointment_version",
                       "appointment_ids", "due_at", "status", "attempts", "last_error", "claimed_at", "sent_at",
                       "message_id", "delivery_status", "created_at", "updated_at")
    fields = readonly_fields
    list_per_page = 100

    def get_queryset(self, request):
        """By the course's location, as the API (scheduling.booking.selectors.notifications_visible_to)."""
        rows = notifications_visible_to(user=request.user)
        ordering = self.get_ordering(request)
        return rows.order_by(*ordering) if ordering else rows

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="due", ordering="due_at")
    def due_local(self, notification):
        return location_time(notification.appointment.location, notification.due_at)

    @admin.display(description="session", ordering="appointment__starts_at")
    def session_local(self, notification):
        return location_time(notification.appointment.location, notification.appointment.starts_at)

    @admin.display(description="last error")
    def error_short(self, notification):
        return notification.last_error[:80]

    @admin.action(description="Send the selected failed emails again", permissions=["change"])
    def resend(self, request, queryset):
        chosen = list(queryset.values_list("pk", "status"))
        failed = [pk for pk, status in chosen if status == NotificationStatus.FAILED]
        try:
            count = notification_resend(notification_ids=failed, resent_by=request.user)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return
        skipped = len(chosen) - count
        text = f"{count} email{'s' if count != 1 else ''} queued again; they go out within a minute."
        if skipped:
            text += f" {skipped} not failed, left as they are."
        self.message_user(request, text, messages.SUCCESS if count else messages.WARNING)
