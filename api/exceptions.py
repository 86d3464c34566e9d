"""One error shape for every answer that is not a success, and never a 500 for what a client sent.

Shape: ``{"detail": "<summary>", "code": "<machine code>", "errors": {"<field>": ["<message>", ...]}}``;
``errors`` is empty when no field is to blame. Django's ValidationError from a service becomes 400,
its ConflictError 409 (412 for a stale ``If-Match``), PermissionError 403.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from clinic.errors import ConflictError

logger = logging.getLogger(__name__)

NON_FIELD = "non_field_errors"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "This appointment was changed by someone else; reload it and try again."
    default_code = "precondition_failed"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used with another request in the last 24 hours."
    default_code = "idempotency_key_reused"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This collides with what is stored."
    default_code = "conflict"


def _django_errors(error: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {field: [message for item in items for message in item.messages]
                for field, items in error.error_dict.items()}
    return {NON_FIELD: list(error.messages)}


def _flatten(data, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as ``{"field": [...]}``, nested fields joined with dots."""
    if isinstance(data, dict):
        flat: dict[str, list[str]] = {}
        for key, value in data.items():
            name = str(key) if not prefix else f"{prefix}.{key}"
            if key in (NON_FIELD, "detail") and prefix:
                name = prefix
            elif key == "detail":
                name = NON_FIELD
            for field, messages in _flatten(value, name).items():
                flat.setdefault(field, []).extend(messages)
        return flat
    if isinstance(data, list):
        if all(not isinstance(item, dict | list) for item in data):
            return {prefix or NON_FIELD: [str(item) for item in data]}
        flat = {}
        for index, item in enumerate(data):
            for field, messages in _flatten(item, f"{prefix}.{index}" if prefix else str(index)).items():
                flat.setdefault(field, []).extend(messages)
        return flat
    return {prefix or NON_FIELD: [str(data)]}


def _body(detail: str, code: str, errors: dict[str, list[str]] | None = None) -> dict:
    return {"detail": detail, "code": code, "errors": errors or {}}


def _summary(errors: dict[str, list[str]]) -> str:
    if set(errors) == {NON_FIELD} and errors[NON_FIELD]:
        return errors[NON_FIELD][0]
    return "Some fields are not valid."


def api_exception_handler(exc, context):
    if isinstance(exc, ConflictError):
        code = getattr(exc, "code", None) or "conflict"
        if code == "version_mismatch":
            return Response(_body(exc.messages[0], "precondition_failed"), status=status.HTTP_412_PRECONDITION_FAILED)
        return Response(_body(" ".join(exc.messages), code), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        errors = _django_errors(exc)
        return Response(_body(_summary(errors), "invalid", errors), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, PermissionError):
        return Response(_body(str(exc) or "You may not do this.", "permission_denied"),
                        status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return Response(_body("Not found.", "not_found"), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return Response(_body("The request body is larger than this server accepts.", "too_large"),
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, SuspiciousOperation):
        return Response(_body(str(exc) or "The request was refused.", "bad_request"),
                        status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RecursionError):
        return Response(_body("The JSON is nested too deeply.", "parse_error"), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DataError | OverflowError | ValueError | TypeError):
        # Input the validators let through but the database or a conversion could not take.
        logger.warning("API input refused late: %r", exc)
        return Response(_body("The request holds a value out of range or of the wrong kind.", "invalid"),
                        status=status.HTTP_400_BAD_REQUEST)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real server fault: let Django log it and answer 500
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        response.data = _body(_summary(errors), "invalid", errors)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        if isinstance(detail, dict | list):
            errors = _flatten(detail)
            response.data = _body(_summary(errors), "error", errors)
        else:
            response.data = _body(str(detail), code if isinstance(code, str) else "error")
    return response
