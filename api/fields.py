"""Input fields that refuse what the services must never see: naive times, huge numbers, foreign ids."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic.rows import instance_from_json, json_all_fields, json_rows

ID_MAX = 2**63 - 1


ASCII_DIGITS = "Write the digits as 0-9."


def aware_instant(text: str) -> datetime:
    """The instant an ISO 8601 time with its offset names, in UTC; ValueError in the user's words.

    Any offset RFC 3339 allows is taken, also those PostgreSQL would refuse to store as written
    (beyond +-15:59). Digits other than 0-9 are refused: Python reads Arabic-Indic or full-width
    digits as numbers, and a person typing them meant something else. A time without its offset
    would mean a different instant at each location.
    """
    if not text.isascii():
        raise ValueError(ASCII_DIGITS)
    try:
        parsed = parse_datetime(text.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError("Enter an ISO 8601 time with its offset, e.g. 2026-12-07T09:00:00+01:00.")
    if timezone.is_naive(parsed):
        raise ValueError("Give the time with its offset, e.g. 2026-12-07T09:00:00+01:00.")
    return parsed.astimezone(UTC)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that must carry its offset: ``2026-12-07T09:00:00+00:00`` or ``...Z``."""

    def to_internal_value(self, value):
        if not isinstance(value, str):
            return super().to_internal_value(value)
        try:
            return aware_instant(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error), code="invalid") from None


class AsciiDateField(serializers.DateField):
    """An ISO 8601 date written with the digits 0-9."""

    default_error_messages = {"digits": ASCII_DIGITS}

    def to_internal_value(self, value):
        if isinstance(value, str) and not value.isascii():
            self.fail("digits")
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
        # One row by its id: what a list prefetches for each row (a clinician's locations) is not read.
        return scope[self.scope_name]().prefetch_related(None)

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, int) and not 1 <= data <= ID_MAX):
            self.fail("does_not_exist", pk_value=data)
        if isinstance(data, str) and data.isdigit() and int(data) > ID_MAX:
            self.fail("does_not_exist", pk_value=data)
        if isinstance(data, float | list | dict):
            self.fail("incorrect_type", data_type=type(data).__name__)
        found = getattr(self.parent, "scoped_rows", {}).get(self.field_name)
        if found is not None and str(found.pk) == str(data):  # a JSON body's number or a query's text
            return found
        return super().to_internal_value(data)


def _columns(rows: QuerySet, only: tuple[str, ...] = ()) -> dict[str, str]:
    """The columns ``only`` names, or every column of the rows' model and of the rows it selects with them (one
    level: a room's location, a clinician's user), named by lookup."""
    if only:
        return {name: name for name in only}
    columns = dict(json_all_fields(rows.model))
    related = rows.query.select_related if isinstance(rows.query.select_related, dict) else {}
    for name in related:
        model = rows.model._meta.get_field(name).related_model
        columns |= {f"{name}__{attname}": f"{name}__{attname}" for attname in json_all_fields(model)}
    return columns


def _instance(rows: QuerySet, row: dict):
    own = {name: value for name, value in row.items() if "__" not in name}
    instance = instance_from_json(rows.model, own)
    related = rows.query.select_related if isinstance(rows.query.select_related, dict) else {}
    for name in related:
        field = rows.model._meta.get_field(name)
        start = f"{name}__"
        setattr(instance, name, instance_from_json(field.related_model, {
            key.removeprefix(start): value for key, value in row.items() if key.startswith(start)}))
    return instance


def json_type_problem(field: serializers.Field, value) -> str | None:
    """Why ``value`` is not of the JSON type the schema declares for ``field`` (None when it is).

    DRF's fields coerce ("5" to 5, 1 to True, 5 to "5"); an integration that sends the wrong type
    has a bug, and the schema promises a 400 for it.
    """
    if value is None:
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField | serializers.PrimaryKeyRelatedField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Must be a whole number."
    if isinstance(field, serializers.DecimalField):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "Must be a number."
    if isinstance(field, serializers.ChoiceField):
        keys = list(field.choices)
        if keys and all(isinstance(key, int) for key in keys):
            return None if isinstance(value, int) and not isinstance(value, bool) else "Must be a whole number."
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.CharField | serializers.DateField | serializers.TimeField
                  | serializers.DateTimeField):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.ListField | serializers.ListSerializer):
        return None if isinstance(value, list) else "Must be a list."
    if isinstance(field, serializers.Serializer):
        return None if isinstance(value, dict) else "Must be an object."
    return None


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that takes each value only in the JSON type the schema declares."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            problems = {
                name: [problem] for name, field in self.fields.items()
                if not field.read_only and name in data
                and (problem := json_type_problem(field, data[name])) is not None
            }
            if problems:
                raise serializers.ValidationError(problems)
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
                      "example": "08:30"})
class WallClockTimeField(serializers.TimeField):
    """A wall-clock time at a location, ``HH:MM`` or ``HH:MM:SS`` (no offset: the location's zone applies)."""

    def to_internal_value(self, value):
        if isinstance(value, str) and not WALL_CLOCK.match(value):
            self.fail("invalid", format="HH:MM[:SS]")
        return super().to_internal_value(value)


WALL_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$")


class ScopedRowsInput(StrictInputSerializer):
    """An input serializer whose related ids (``ScopedPrimaryKeyField``) are read together, in one query
    (``clinic.rows``) instead of one each; an id not found there is looked up by its own field,
    which gives its usual answer.

    Each row is read with the related rows ``read_with`` names for its field, not with those a list
    shows beside it (a room's location): the write reads what it needs afresh under its lock. ``read_columns``
    names, for a field, the only columns read (a related row's as ``user__first_name``); the others load on
    first use. Each column read costs Django about 0.3 ms to build and compile (bench/README.md)."""

    read_with: dict[str, tuple[str, ...]] = {}
    read_columns: dict[str, tuple[str, ...]] = {}

    def to_internal_value(self, data):
        self.scoped_rows = self._read_scoped(data) if isinstance(data, dict) else {}
        return super().to_internal_value(data)

    def _read_scoped(self, data: dict) -> dict:
        wanted = {name: field.get_queryset().select_related(None).select_related(*self.read_with.get(name, ()))
                  .filter(pk=data[name]) for name, field in self.fields.items()
                  if isinstance(field, ScopedPrimaryKeyField) and type(data.get(name)) is int
                  and 1 <= data[name] <= ID_MAX}
        if len(wanted) < 2:
            return {}
        base = next(iter(wanted.values()))
        found = base.values(**{f"scoped_{name}": json_rows(rows, **_columns(rows, self.read_columns.get(name, ())))
                               for name, rows in wanted.items()})
        row = found.first()
        if row is None:
            return {}
        return {name: _instance(rows, row[f"scoped_{name}"][0]) for name, rows in wanted.items()
                if row[f"scoped_{name}"]}
