"""Who may use which endpoint, by role (DESIGN.md, Roles). Which rows they see is each view's queryset."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from clinic.models import StaffRole
from clinic.selectors import CLINICAL_ROLES, staff_role


def role_of(request) -> str | None:
    """The acting user's role, asked once per request."""
    if not hasattr(request, "_ionto_role"):
        request._ionto_role = staff_role(request.user)
    return request._ionto_role


def is_clinical(request) -> bool:
    return role_of(request) in CLINICAL_ROLES


class IsStaff(BasePermission):
    """Front desk, clinicians and managers; any other signed-in user is refused."""

    message = "Only clinic staff (front desk, clinician or manager) use this API."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and role_of(request) is not None)


class IsClinical(IsStaff):
    """Clinicians and managers: screenings and session records are clinical."""

    message = "Only clinicians and managers see clinical records."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and is_clinical(request)


class ManagerWrites(IsStaff):
    """Everyone reads; only a manager changes the clinic's own resources."""

    message = "Only a manager changes locations, rooms, devices, hours and closures."

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return request.method in SAFE_METHODS or role_of(request) == StaffRole.MANAGER
