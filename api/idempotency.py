"""``Idempotency-Key`` on the POSTs that book or change appointments.

The same key with the same request within 24 hours answers the first response again and books
nothing twice; the same key with a different request answers 422. The key's row is taken in the
transaction that does the booking, so two identical requests arriving together book once: the
second waits on the row until the first commits, then replays its answer.
"""

from __future__ import annotations

import functools
import json

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.response import Response

from api.exceptions import IdempotencyKeyReused
from api.services import idempotency_key_claim, idempotency_key_store, request_fingerprint

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("ETag", "Location")

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Any unique string (a UUID) up to 255 characters. Sending the same request again with the same "
                "key within 24 hours answers the first response and books nothing twice.",
    pattern=r"^[\x21-\x7e]{1,255}$",
)


def idempotent(handler):
    """Wrap a view method so that requests carrying an Idempotency-Key run at most once."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not 1 <= len(key) <= 255 or not all(33 <= ord(char) <= 126 for char in key):
            raise exceptions.ValidationError({HEADER: ["Send 1 to 255 visible ASCII characters, e.g. a UUID."]})
        body = json.dumps(request.data, sort_keys=True, default=str).encode()
        fingerprint = request_fingerprint(method=request.method, path=request.path, body=body)
        with transaction.atomic():
            row = idempotency_key_claim(user=request.user, key=key, fingerprint=fingerprint)
            if row.status_code is not None:
                if row.fingerprint != fingerprint:
                    raise IdempotencyKeyReused()
                headers = {**row.response_headers, REPLAYED_HEADER: "true"}
                return Response(row.response_body, status=row.status_code, headers=headers)
            try:
                with transaction.atomic():
                    response = handler(view, request, *args, **kwargs)
            except Exception as error:  # answered like any other error, then kept as the first answer
                response = view.handle_exception(error)
            if response.status_code >= 500:
                raise exceptions.APIException("The request could not be completed; send it again.")
            headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
            idempotency_key_store(row=row, status_code=response.status_code, body=response.data, headers=headers)
        return response

    return wrapper
