"""The error shape every refusal is answered with (the exception handler's)."""

from __future__ import annotations

from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in words a person understands.")
    code = serializers.CharField(help_text="A machine-readable code, e.g. invalid, room_busy, not_found.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field; empty when no field is to blame.",
    )
