"""Errors that services raise, in words a front-desk person understands."""

from django.core.exceptions import ValidationError


class ConflictError(ValidationError):
    """The request is valid but collides with what is stored (a booked slot, a changed version).

    The API answers it with 409; the admin shows its message like any form error.
    """
