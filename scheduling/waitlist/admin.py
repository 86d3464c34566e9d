"""The front desk's waitlist screens: the entries per location with the offers sent and their state, adding an
entry (from the patient's upcoming sessions or here), taking one off, and offering a time by hand. Every change
goes through scheduling.waitlist.services. Registered from scheduling.admin."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from clinic.admin import LocationScopedAdmin, ReadOnlyInline, VisibleFilter, run_service
from clinic.display import location_time
from clinic.models import Clinician, Device, Room, Weekday
from scheduling.booking.selectors import appointments_visible_to, courses_visible_to
from scheduling.models import AppointmentStatus
from scheduling.waitlist.models import WaitlistEntry, WaitlistOffer
from scheduling.waitlist.selectors import waitlist_entries_visible_to, waitlist_offers_visible_to
from scheduling.waitlist.services import waitlist_entry_cancel, waitlist_entry_create, waitlist_offer_by_hand


def _weekdays_text(entry: WaitlistEntry) -> str:
    return ", ".join(Weekday(day).label[:3] for day in entry.weekdays)


def _wanted(entry: WaitlistEntry) -> str:
    if entry.appointment_id is None:
        return "the course's next session"
    return f"earlier than {location_time(entry.location, entry.appointment.starts_at)}"


class WaitlistEntryForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(choices=Weekday.choices, coerce=int,
                                              widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WaitlistEntry
        fields = ("course", "appointment", "weekdays", "earliest", "latest", "until")


class WaitlistOfferInline(ReadOnlyInline):
    model = WaitlistOffer
    fields = ("offered_time", "status", "expires_local", "answered_at", "by_hand")
    verbose_name_plural = "offers sent"

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description="time offered")
    def offered_time(self, offer):
        return location_time(offer.slot.location, offer.slot.starts_at)

    @admin.display(description="ends")
    def expires_local(self, offer):
        return location_time(offer.slot.location, offer.expires_at)

    @admin.display(description="by hand", boolean=True)
    def by_hand(self, offer):
        return offer.slot.offered_by_id is not None


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(LocationScopedAdmin):
    rows_visible_to = staticmethod(waitlist_entries_visible_to)
    add_form = WaitlistEntryForm
    list_display = ("patient", "location", "wanted", "days", "hours", "until", "status", "offers_sent",
                    "asked_by", "created_at")
    list_filter = ("status", ("location", VisibleFilter))
    list_select_related = ("patient", "location", "appointment")
    search_fields = ("patient__last_name", "patient__first_name", "patient__email")
    autocomplete_fields = ("course", "appointment")  # searched among the user's rows, not one long list
    actions = ["take_off"]
    inlines = [WaitlistOfferInline]
    readonly_fields = ("patient", "course", "appointment", "location", "weekdays", "earliest", "latest", "until",
                       "status", "created_by", "offer_link", "created_at", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("offers")

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return WaitlistEntryForm.Meta.fields
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "course":
            kwargs["queryset"] = courses_visible_to(user=request.user).select_related("patient")
        if db_field.name == "appointment":
            kwargs["queryset"] = (appointments_visible_to(user=request.user)
                                  .filter(status=AppointmentStatus.BOOKED).select_related("patient", "location"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def create_through_service(self, request, data):
        return waitlist_entry_create(course=data["course"], appointment=data.get("appointment"),
                                     weekdays=list(data["weekdays"]), earliest=data["earliest"],
                                     latest=data["latest"], until=data["until"], created_by=request.user)

    @admin.display(description="wants")
    def wanted(self, entry):
        return _wanted(entry)

    @admin.display(description="days")
    def days(self, entry):
        return _weekdays_text(entry)

    @admin.display(description="hours")
    def hours(self, entry):
        return f"{entry.earliest:%H:%M}-{entry.latest:%H:%M}"

    @admin.display(description="offers sent")
    def offers_sent(self, entry):
        offers = list(entry.offers.all())
        if not offers:
            return "—"
        states = {}
        for offer in offers:
            states[offer.get_status_display().lower()] = states.get(offer.get_status_display().lower(), 0) + 1
        return ", ".join(f"{count} {state}" for state, count in states.items())

    @admin.display(description="asked by")
    def asked_by(self, entry):
        return "the patient" if entry.created_by_id is None else "the desk"

    @admin.display(description="offer a time")
    def offer_link(self, entry):
        if not entry.is_open:
            return "—"
        return format_html('<a class="button" id="offer-by-hand" href="{}">Offer a time by hand</a>',
                           reverse("admin:scheduling_waitlistentry_offer", args=[entry.pk]))

    @admin.action(description="Take the selected entries off the waitlist", permissions=["change"])
    def take_off(self, request, queryset):
        done = 0
        for entry in queryset.filter(status__in=("waiting", "offered")):
            if run_service(request, lambda entry=entry: waitlist_entry_cancel(entry=entry,
                                                                             cancelled_by=request.user)):
                done += 1
        self.message_user(request, f"{done} entr{'y' if done == 1 else 'ies'} taken off the waitlist.",
                          messages.SUCCESS if done else messages.WARNING)

    def get_urls(self):
        view = self.admin_site.admin_view(self.offer_by_hand_view)
        return [path("<int:entry_id>/offer/", view, name="scheduling_waitlistentry_offer"), *super().get_urls()]

    def offer_by_hand_view(self, request, entry_id: int):
        """Offer this slot by hand: a day, a time, the clinician, room and device, checked by the course's rules."""
        entry = self.get_queryset(request).select_related("patient", "location", "appointment").filter(
            pk=entry_id).first()
        if entry is None or not self.has_change_permission(request, entry):
            raise Http404
        form = OfferByHandForm(request.POST or None, location=entry.location)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                starts_at = entry.location.at_typed(data["day"], data["time"])
                waitlist_offer_by_hand(entry=entry, starts_at=starts_at, clinician=data["clinician"],
                                       room=data["room"], device=data["device"], offered_by=request.user)
            except ValidationError as error:
                form.add_error(None, " ".join(error.messages))
            else:
                messages.success(request, f"The offer is on its way to {entry.patient}.")
                return HttpResponseRedirect(reverse("admin:scheduling_waitlistentry_change", args=[entry.pk]))
        context = {**self.admin_site.each_context(request), "title": "Offer a time by hand", "entry": entry,
                   "wanted": _wanted(entry), "form": form, "opts": self.model._meta}
        return TemplateResponse(request, "scheduling/admin/waitlist_offer_by_hand.html", context)


class OfferByHandForm(forms.Form):
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}), help_text="The location's local time.")
    clinician = forms.ModelChoiceField(queryset=Clinician.objects.none())
    room = forms.ModelChoiceField(queryset=Room.objects.none())
    device = forms.ModelChoiceField(queryset=Device.objects.none())

    def __init__(self, *args, location, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinician"].queryset = Clinician.objects.filter(locations=location, is_active=True
                                                                     ).select_related("user")
        self.fields["room"].queryset = Room.objects.filter(location=location, is_active=True)
        self.fields["device"].queryset = Device.objects.filter(location=location, in_service=True)


@admin.register(WaitlistOffer)
class WaitlistOfferAdmin(LocationScopedAdmin):
    """Every offer sent, per location, with its state (read-only: offers are written by Ionto or by hand)."""

    rows_visible_to = staticmethod(waitlist_offers_visible_to)
    list_display = ("offered_time", "patient", "location", "status", "expires_local", "answered_at", "by_hand")
    list_filter = ("status", ("slot__location", VisibleFilter))
    list_select_related = ("slot__location", "entry__patient")
    readonly_fields = ("slot", "entry", "status", "expires_at", "answered_at", "appointment", "created_at")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    @admin.display(description="time offered", ordering="slot__starts_at")
    def offered_time(self, offer):
        return location_time(offer.slot.location, offer.slot.starts_at)

    @admin.display(description="patient")
    def patient(self, offer):
        return offer.entry.patient

    @admin.display(description="location")
    def location(self, offer):
        return offer.slot.location

    @admin.display(description="ends", ordering="expires_at")
    def expires_local(self, offer):
        return location_time(offer.slot.location, offer.expires_at)

    @admin.display(description="by hand", boolean=True)
    def by_hand(self, offer):
        return offer.slot.offered_by_id is not None
