"""Pages that patients reach through signed links in their emails (no login)."""

from django.urls import path

from scheduling.checkins.pages import check_in_page
from scheduling.reminders.pages import (
    appointment_cancel_page,
    appointment_confirm_page,
    short_link_page,
    sms_inbound,
    sms_status_callback,
    unsubscribe_page,
)
from scheduling.selfservice.pages import appointment_move_page, course_book_rest_page
from scheduling.waitlist.pages import waitlist_join_page, waitlist_offer_page

app_name = "patient"

urlpatterns = [
    path("confirm/<str:token>/", appointment_confirm_page, name="confirm"),
    path("cancel/<str:token>/", appointment_cancel_page, name="cancel"),
    path("move/<str:token>/", appointment_move_page, name="move"),
    path("book/<str:token>/", course_book_rest_page, name="book-rest"),
    path("unsubscribe/<str:token>/", unsubscribe_page, name="unsubscribe"),
    path("s/<str:token>/", short_link_page, name="short"),
    path("waitlist/join/<str:token>/", waitlist_join_page, name="waitlist-join"),
    path("waitlist/offer/<str:token>/", waitlist_offer_page, name="waitlist-offer"),
    path("check-in/<str:token>/", check_in_page, name="check-in"),
    # Twilio's webhooks (signed with the account's auth token).
    path("sms/status/", sms_status_callback, name="sms-status"),
    path("sms/inbound/", sms_inbound, name="sms-inbound"),
]
