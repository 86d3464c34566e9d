"""Several sets of rows in one query: each set an array column of JSON objects (``json_rows``), read back
as model instances (``instance_from_json``). The booking rules (``booking_facts``) and a booking request's
ids (``api.fields.ScopedRowsInput``) are read this way, in one round trip. It pays for small sets of few
columns: each column costs Django about 0.3 ms to build and compile, so read only the columns the caller
uses; for hundreds of rows, plain queries are faster (bench/README.md, "Tried and undone")."""

from __future__ import annotations

from django.contrib.postgres.expressions import ArraySubquery
from django.db import DEFAULT_DB_ALIAS
from django.db.models import QuerySet
from django.db.models.functions import JSONObject


def json_rows(rows: QuerySet, **columns) -> ArraySubquery:
    """``rows`` as one array column of JSON objects with ``columns`` (name: the field or lookup read), in
    no particular order (a model's ordering would join)."""
    return ArraySubquery(rows.order_by().values(row=JSONObject(**columns)))


def json_all_fields(model) -> dict[str, str]:
    """Every column of ``model``, for ``json_rows`` (each by its attribute name)."""
    return {field.attname: field.attname for field in model._meta.concrete_fields}


def instance_from_json(model, row: dict):
    """A model instance of the columns read, each turned from JSON into its field's Python value (a time,
    a date, an aware datetime); the columns not read load on first use, as with ``only()``."""
    names, values = [], []
    for field in model._meta.concrete_fields:  # from_db takes the columns in the model's order
        if field.attname in row:
            names.append(field.attname)
            value = row[field.attname]
            values.append(None if value is None else field.to_python(value))
    return model.from_db(DEFAULT_DB_ALIAS, names, values)
