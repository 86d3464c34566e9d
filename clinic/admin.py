"""Admin of the clinic's resources, and the base every Ionto admin builds on.

Every add and change goes through a service (STYLE.md): the admin's form calls it while the form is
validated, so whatever the service refuses comes back as a form error in its own words instead of a
500. Nothing is deleted through the admin.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

from clinic import services
from clinic.models import Closure, Device, Location, OpeningHours, Room, Staff, StaffRole, WorkingHours
from clinic.selectors import (
    clinicians_visible_to,
    closures_visible_to,
    devices_visible_to,
    location_ids_visible_to,
    locations_visible_to,
    opening_hours_visible_to,
    rooms_visible_to,
    staff_visible_to,
    working_hours_visible_to,
)

AUDIT_FIELDS = ("created_at", "updated_at")


def error_messages(error: Exception) -> dict[str | None, list[str]]:
    """A service's refusal as {field or None: [messages]}, in the words the service chose."""
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        return {(None if field == NON_FIELD_ERRORS else field): [m for e in errors for m in e.messages]
                for field, errors in error.error_dict.items()}
    if isinstance(error, ValidationError):
        return {None: error.messages}
    return {None: [str(error)]}


def plain_message(error: Exception) -> str:
    """One line for a message banner: field errors are named by their field's label-like name."""
    parts = []
    for field, texts in error_messages(error).items():
        for text in texts:
            parts.append(text if field is None else f"{field.replace('_', ' ').capitalize()}: {text}")
    return " ".join(parts)


def add_service_errors(form: forms.BaseForm, error: Exception) -> None:
    for field, texts in error_messages(error).items():
        for text in texts:
            if field is not None and field in form.fields:
                form.add_error(field, text)
            elif field is None:
                form.add_error(None, text)
            else:
                form.add_error(None, f"{field.replace('_', ' ').capitalize()}: {text}")


def run_service(request, call, success: str | None = None) -> object | None:
    """Call a service for an admin action; show its success or its refusal as a message."""
    try:
        with transaction.atomic():
            result = call()
    except (ValidationError, PermissionError) as error:
        messages.error(request, plain_message(error))
        return None
    if success:
        messages.success(request, success)
    return result


def user_zone(user):
    """The zone of the first location a user works at: admin dates and times are shown and read in it."""
    location = locations_visible_to(user=user).only("time_zone").order_by("name").first()
    return location.zone if location is not None else None


class LocalTimeAdminMixin:
    """Show and read every date and time of these pages in the user's location zone, not UTC."""

    def _in_user_zone(self, request, view, *args, **kwargs):
        zone = user_zone(request.user)
        if zone is None:
            return view(request, *args, **kwargs)
        with timezone.override(zone):
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
            return response

    def changeform_view(self, request, *args, **kwargs):
        return self._in_user_zone(request, super().changeform_view, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        return self._in_user_zone(request, super().changelist_view, *args, **kwargs)


class ServiceAdmin(LocalTimeAdminMixin, admin.ModelAdmin):
    """A ModelAdmin whose add/change call `create_through_service`/`change_through_service`.

    The call happens while the form is validated (inside the admin's transaction), so a refusal is a
    form error; on success the form's instance is what the service saved, and the admin's own
    save_model/save_related do nothing.
    """

    readonly_fields: tuple = AUDIT_FIELDS
    show_full_result_count = False  # one COUNT per list page, not two
    add_form: type | None = None  # the add page's form (its own fields), as Django's UserAdmin has

    def create_through_service(self, request, data: dict):
        """Models without a create service are not added in the admin; the refusal is a form error."""
        raise PermissionError(f"New {self.model._meta.verbose_name_plural} are not added here.")

    def change_through_service(self, request, obj, data: dict, changed: list[str]):
        """Models without a change service stay as they are; the refusal is a form error."""
        raise PermissionError(f"{self.model._meta.verbose_name.capitalize()} records are not changed here.")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None and self.add_form is not None:
            kwargs.update(form=self.add_form, fields=None)
        form_class = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self

        class ServiceForm(form_class):
            def _post_clean(self):
                # No model validation here: the service validates (full_clean) and says it in its own words.
                if self.errors:
                    return
                try:
                    with transaction.atomic():
                        if change:
                            if not self.changed_data:
                                return
                            saved = model_admin.change_through_service(
                                request, obj, self.cleaned_data, list(self.changed_data))
                        else:
                            saved = model_admin.create_through_service(request, self.cleaned_data)
                except (ValidationError, PermissionError) as error:
                    add_service_errors(self, error)
                    return
                self.instance = saved

        ServiceForm.__name__ = form_class.__name__
        return ServiceForm

    def save_model(self, request, obj, form, change):
        """Saved by the service during validation."""

    def save_related(self, request, form, formsets, change):
        """Related rows are written by the service too; the inlines here only show."""

    def construct_change_message(self, request, form, formsets, add=False):
        return super().construct_change_message(request, form, [], add)

    def has_delete_permission(self, request, obj=None):
        return False


class VisibleFilter(admin.RelatedFieldListFilter):
    """A filter by location, room, device or clinician that offers only those of the user's locations (their
    own selectors), each named in one query: a front desk of one location in a group of a thousand sees one.

    Rooms, devices and clinicians are offered one location at a time: those of the user's only location, or
    of the location chosen in the list's location filter. Offered every location's, a manager's appointment
    list at a thousand locations was a page of 4.2 MB that took 2.8 s to build (bench/README.md)."""

    def field_choices(self, field, request, model_admin):
        model = field.related_model
        if model is Location:
            return [(item.pk, str(item)) for item in locations_visible_to(user=request.user)]
        location_id = self._one_location(request)
        if location_id is None:
            return []
        if model is Staff:
            items = clinicians_visible_to(user=request.user).filter(locations=location_id).select_related("user")
        else:
            items = {Room: rooms_visible_to, Device: devices_visible_to}[model](user=request.user).filter(
                location_id=location_id).select_related("location")
        return [(item.pk, str(item)) for item in items]

    @staticmethod
    def _one_location(request) -> int | None:
        """The user's only location, or the one of theirs chosen in the list's location filter."""
        visible = location_ids_visible_to(user=request.user)
        if len(visible) == 1:
            return next(iter(visible))
        chosen = [value for key, value in request.GET.items() if key.endswith("location__id__exact")]
        if len(chosen) == 1 and chosen[0].isascii() and chosen[0].isdigit() and int(chosen[0]) in visible:
            return int(chosen[0])
        return None


class LocationScopedAdmin(ServiceAdmin):
    """Lists, opens and acts on only the rows the user may see: ``rows_visible_to`` is the model's
    ``*_visible_to`` selector, the one the API and the clinician pages use too."""

    rows_visible_to = staticmethod(locations_visible_to)

    def get_queryset(self, request):
        rows = self.rows_visible_to(user=request.user)
        ordering = self.get_ordering(request)
        return rows.order_by(*ordering) if ordering else rows


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on their parent's page to read: they change through their own pages and services."""

    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class OpeningHoursInline(ReadOnlyInline):
    model = OpeningHours
    fields = ("weekday", "opens_at", "closes_at")


@admin.register(Location)
class LocationAdmin(LocationScopedAdmin):
    list_display = ("name", "time_zone", "phone", "slot_minutes", "turnover_minutes", "booking_horizon_weeks")
    search_fields = ("name",)
    inlines = [OpeningHoursInline]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return [f.name for f in Location._meta.fields if f.name not in self.changeable]
        return AUDIT_FIELDS

    changeable = services.PATIENT_OPTIONS

    def change_through_service(self, request, obj, data, changed):
        return services.location_set_patient_options(
            location=obj, changed_by=request.user, **{name: data[name] for name in self.changeable})

    def create_through_service(self, request, data):
        options = {key: value for key, value in data.items()
                   if key not in ("name", "address", "phone", "time_zone") and value is not None}
        return services.location_create(name=data["name"], address=data["address"], phone=data["phone"],
                                        time_zone=data["time_zone"], created_by=request.user, **options)


@admin.register(Room)
class RoomAdmin(LocationScopedAdmin):
    rows_visible_to = staticmethod(rooms_visible_to)
    list_display = ("name", "location", "is_active")
    list_filter = (("location", VisibleFilter), "is_active")
    list_select_related = ("location",)
    search_fields = ("name",)
    fields = ("location", "name", "is_active", *AUDIT_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        return (*self.fields,) if obj is not None else (*AUDIT_FIELDS, "is_active")

    def create_through_service(self, request, data):
        return services.room_create(location=data["location"], name=data["name"], created_by=request.user)


@admin.register(Device)
class DeviceAdmin(LocationScopedAdmin):
    rows_visible_to = staticmethod(devices_visible_to)
    list_display = ("model", "serial_number", "location", "in_service")
    list_filter = (("location", VisibleFilter), "in_service")
    list_select_related = ("location",)
    search_fields = ("model", "serial_number")
    fields = ("location", "model", "serial_number", "in_service", *AUDIT_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ("location", "model", "serial_number", *AUDIT_FIELDS)
        return AUDIT_FIELDS

    def create_through_service(self, request, data):
        return services.device_create(location=data["location"], model=data["model"],
                                      serial_number=data["serial_number"], in_service=data["in_service"],
                                      created_by=request.user)

    def change_through_service(self, request, obj, data, changed):
        return services.device_set_in_service(device=obj, in_service=data["in_service"], changed_by=request.user)


class StaffForm(forms.ModelForm):
    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    password = forms.CharField(widget=forms.PasswordInput, required=False,
                               help_text="Leave empty to let the person set one through a password reset.")

    class Meta:
        model = Staff
        fields = ("role", "locations")

    def clean_username(self):
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username=username).exists():
            raise ValidationError("This username is taken.")
        return username


@admin.register(Staff)
class StaffAdmin(LocationScopedAdmin):
    rows_visible_to = staticmethod(staff_visible_to)
    add_form = StaffForm
    list_display = ("__str__", "username", "role", "location_names", "is_active")
    list_filter = ("role", "is_active", ("locations", VisibleFilter))
    search_fields = ("user__first_name", "user__last_name", "user__username", "user__email")
    list_select_related = ("user",)
    filter_horizontal = ("locations",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("locations")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("username", "first_name", "last_name", "email", "password", "role", "locations")
        return ("user", "role", "locations", "is_active", *AUDIT_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        return ("user", "role", "locations", "is_active", *AUDIT_FIELDS) if obj is not None else ()

    @admin.display(description="username")
    def username(self, staff):
        return staff.user.username

    @admin.display(description="locations")
    def location_names(self, staff):
        return ", ".join(location.name for location in staff.locations.all())

    def create_through_service(self, request, data):
        return services.staff_create(
            username=data["username"], first_name=data["first_name"], last_name=data["last_name"],
            role=data["role"], locations=list(data["locations"]), email=data.get("email", ""),
            password=data.get("password") or None, created_by=request.user,
        )


@admin.register(OpeningHours)
class OpeningHoursAdmin(LocationScopedAdmin):
    rows_visible_to = staticmethod(opening_hours_visible_to)
    list_display = ("location", "weekday", "opens_at", "closes_at")
    list_filter = (("location", VisibleFilter), "weekday")
    list_select_related = ("location",)
    fields = ("location", "weekday", "opens_at", "closes_at", *AUDIT_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else AUDIT_FIELDS

    def create_through_service(self, request, data):
        return services.opening_hours_add(location=data["location"], weekday=data["weekday"],
                                          opens_at=data["opens_at"], closes_at=data["closes_at"],
                                          created_by=request.user)


@admin.register(WorkingHours)
class WorkingHoursAdmin(LocationScopedAdmin):
    rows_visible_to = staticmethod(working_hours_visible_to)
    list_display = ("clinician", "location", "weekday", "starts_at", "ends_at")
    list_filter = (("location", VisibleFilter), "weekday", ("clinician", VisibleFilter))
    list_select_related = ("location", "clinician__user")
    fields = ("clinician", "location", "weekday", "starts_at", "ends_at", *AUDIT_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else AUDIT_FIELDS

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "clinician":
            kwargs["queryset"] = Staff.objects.filter(role=StaffRole.CLINICIAN).select_related("user")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def create_through_service(self, request, data):
        return services.working_hours_add(clinician=data["clinician"], location=data["location"],
                                          weekday=data["weekday"], starts_at=data["starts_at"],
                                          ends_at=data["ends_at"], created_by=request.user)


@admin.register(Closure)
class ClosureAdmin(LocationScopedAdmin):
    rows_visible_to = staticmethod(closures_visible_to)
    list_display = ("location", "what", "starts_at", "ends_at", "reason")
    list_filter = (("location", VisibleFilter),)
    list_select_related = ("location", "room", "device", "clinician__user")
    date_hierarchy = "starts_at"
    fields = ("location", "room", "device", "clinician", "starts_at", "ends_at", "reason", *AUDIT_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else AUDIT_FIELDS

    @admin.display(description="closed")
    def what(self, closure):
        return closure.room or closure.device or closure.clinician or "whole location"

    def create_through_service(self, request, data):
        return services.closure_create(
            location=data["location"], starts_at=data["starts_at"], ends_at=data["ends_at"], reason=data["reason"],
            room=data.get("room"), device=data.get("device"), clinician=data.get("clinician"),
            created_by=request.user,
        )
