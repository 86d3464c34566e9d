"""Input fields that refuse what the services must never see: naive times, huge numbers, foreign ids."""

from __future__ import annotations

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

ID_MAX = 2**63 - 1


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that must carry its offset: ``2026-12-07T09:00:00+00:00`` or ``...Z``."""

    default_error_messages = {
        "naive": "Give the time with its offset, e.g. 2026-12-07T09:00:00+01:00.",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)


class ScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A related id looked up among the rows the acting user may see (``context["scope"]``)."""

    def __init__(self, *, scope: str, **kwargs):
        self.scope_name = scope
        super().__init__(**kwargs)

    def get_queryset(self):
        scope = self.context.get("scope") if hasattr(self, "parent") else None
        if scope is None:  # the schema generator asks without a request
            return super().get_queryset()
        return scope[self.scope_name]()

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, int) and not 1 <= data <= ID_MAX):
            self.fail("does_not_exist", pk_value=data)
        if isinstance(data, str) and data.isdigit() and int(data) > ID_MAX:
            self.fail("does_not_exist", pk_value=data)
        if isinstance(data, float | list | dict):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)
