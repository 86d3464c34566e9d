"""The waitlist: entries (patients asking for an earlier time) and the offers of freed times."""

from __future__ import annotations

from rest_framework import serializers

from api.fields import AwareDateTimeField, ScopedPrimaryKeyField, StrictInputSerializer
from clinic.models import Clinician, Device, Room
from scheduling.models import Appointment, Course
from scheduling.waitlist.models import WaitlistEntry, WaitlistOffer


class WaitlistEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = WaitlistEntry
        fields = ["id", "patient", "course", "appointment", "location", "weekdays", "earliest", "latest", "until",
                  "status", "created_by", "created_at"]
        read_only_fields = fields


class WaitlistEntryCreateSerializer(StrictInputSerializer):
    course = ScopedPrimaryKeyField(scope="courses", queryset=Course.objects.all())
    appointment = ScopedPrimaryKeyField(scope="appointments", queryset=Appointment.objects.all(), required=False,
                                        allow_null=True, default=None,
                                        help_text="The booked session to move earlier; empty: the next unbooked one.")
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6), min_length=1,
                                     max_length=7, help_text="0 = Monday ... 6 = Sunday.")
    earliest = serializers.TimeField(help_text="Earliest start, the location's local time.")
    latest = serializers.TimeField(help_text="Latest end, the location's local time.")
    until = serializers.DateField(help_text="The last day the patient wants a time on.")


class WaitlistOfferSerializer(serializers.ModelSerializer):
    starts_at = serializers.DateTimeField(source="slot.starts_at", read_only=True)
    ends_at = serializers.DateTimeField(source="slot.ends_at", read_only=True)
    location = serializers.IntegerField(source="slot.location_id", read_only=True)
    clinician = serializers.IntegerField(source="slot.clinician_id", read_only=True)
    room = serializers.IntegerField(source="slot.room_id", read_only=True)
    device = serializers.IntegerField(source="slot.device_id", read_only=True)
    by_hand = serializers.SerializerMethodField()

    class Meta:
        model = WaitlistOffer
        fields = ["id", "entry", "location", "starts_at", "ends_at", "clinician", "room", "device", "expires_at",
                  "status", "answered_at", "appointment", "by_hand", "created_at"]
        read_only_fields = fields

    def get_by_hand(self, offer: WaitlistOffer) -> bool:
        return offer.slot.offered_by_id is not None


class WaitlistOfferByHandSerializer(StrictInputSerializer):
    clinician = ScopedPrimaryKeyField(scope="clinicians", queryset=Clinician.objects.all())
    room = ScopedPrimaryKeyField(scope="rooms", queryset=Room.objects.all())
    device = ScopedPrimaryKeyField(scope="devices", queryset=Device.objects.all())
    starts_at = AwareDateTimeField()
