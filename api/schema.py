"""OpenAPI post-processing: every operation declares the error answers it can give, in one shape."""

from __future__ import annotations

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error answer: a summary, a code and the messages per field.",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, in words a person understands."},
        "code": {"type": "string", "description": "A machine-readable code, e.g. invalid, room_busy, not_found."},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Messages per field; empty when no field is to blame.",
        },
    },
    "required": ["detail", "code", "errors"],
}
COMMON = {
    "400": "Invalid input or query parameters: a message per field.",
    "401": "No credentials, or an unknown, expired or revoked token.",
    "403": "Your role may not do this.",
    "406": "The Accept header asks for a format the API does not give.",
    "429": "Too many requests; wait the seconds Retry-After says.",
}
WITH_ID = {"404": "No such row among those you can see (or no such page)."}
# Fields that one role's serializer has and the other's has not: present for clinicians and managers only.
ROLE_FIELDS = {"PatientClinical": "screening", "AppointmentClinical": "session_record"}
WITH_BODY = {"413": "The body is larger than the server accepts.", "415": "The body is not JSON (or a form)."}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            wanted = {**COMMON, **WITH_ID}
            if method in {"post", "put", "patch"}:
                wanted.update(WITH_BODY)
            if path.endswith("/health/"):
                wanted = {"406": COMMON["406"]}
            responses = operation.setdefault("responses", {})
            for code, description in wanted.items():
                responses.setdefault(code, {"description": description,
                                            "content": {"application/json": {"schema": ERROR_REF}}})
            for code, response in responses.items():
                if code.startswith("4") and "content" not in response:
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
    for component, field in ROLE_FIELDS.items():
        schema = result["components"]["schemas"].get(component)
        if schema is not None and field in schema.get("required", []):
            schema["required"].remove(field)
    return result
