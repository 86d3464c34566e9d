"""The second sign-in step: a code from an authenticator app (TOTP), or a single-use backup code,
after the password.

Staff may set one up; managers must where IONTO_MANAGER_2FA_REQUIRED is on (production's
default). clinic.selectors.second_step_owed decides who still owes it; the middleware sends such
a user to it before any admin or clinician page, the API refuses such a session
(api.authentication), and the token endpoint asks for the code in the same request.
django_otp checks the codes and remembers in the session that the step was passed.
"""

from __future__ import annotations

import io

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.qr import write_qrcode_image

from clinic import services
from clinic.redirects import safe_next
from clinic.selectors import second_step_owed

PROTECTED_PREFIXES = ("/admin/", "/clinician/")
ALLOWED_PATHS = ("/admin/login/", "/admin/logout/")


class TwoFactorMiddleware:
    """After django_otp's OTPMiddleware: staff pages need the second step when it is owed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(PROTECTED_PREFIXES) and request.path not in ALLOWED_PATHS:
            owed = second_step_owed(user=request.user)
            if owed is not None:
                return redirect(f"{reverse(f'two_factor:{owed}')}?next={request.get_full_path()}")
        return self.get_response(request)


def _code_field(label: str, *, required: bool = True) -> forms.CharField:
    return forms.CharField(label=label, max_length=20, required=required, widget=forms.TextInput(
        attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}))


class CodeForm(forms.Form):
    token = _code_field("Code from your authenticator app, or a backup code")


class SetupForm(forms.Form):
    token = _code_field("Code the new authenticator app shows")
    current_code = _code_field("Code from your present authenticator app, or a backup code", required=False)


class CurrentCodeForm(forms.Form):
    current_code = _code_field("Code from your authenticator app, or a backup code")


def _form_errors(form: forms.Form, error: ValidationError) -> None:
    for field, messages in error.message_dict.items():
        form.add_error(field, messages)


@login_required(login_url="/admin/login/")
def verify(request):
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.two_factor_sign_in_verify(request=request, user=request.user, code=form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            return redirect(safe_next(request, "/admin/"))
        form.add_error("token", services.WRONG_CODE)
    return render(request, "two_factor/verify.html", {"form": form, "next": safe_next(request, "/admin/"),
                                                     "title": "Second sign-in step"})


@login_required(login_url="/admin/login/")
def setup(request):
    device = services.two_factor_setup_start(user=request.user)
    form = SetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.two_factor_setup_confirm(user=request.user, device=device, **form.cleaned_data)
        except ValidationError as error:
            _form_errors(form, error)
        else:
            otp_login(request, device)
            return redirect(safe_next(request, "/admin/"))
    qr = io.BytesIO()
    write_qrcode_image(device.config_url, qr)
    return render(request, "two_factor/setup.html", {
        "form": form, "next": safe_next(request, "/admin/"), "title": "Set up the second sign-in step",
        "qr_svg": qr.getvalue().decode(), "secret": device.config_url.split("secret=")[1].split("&")[0],
        "has_device": user_has_device(request.user),
    })


@login_required(login_url="/admin/login/")
def remove(request):
    form = CurrentCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.two_factor_remove(user=request.user, current_code=form.cleaned_data["current_code"])
        except ValidationError as error:
            _form_errors(form, error)
        else:
            return redirect("/admin/")
    return render(request, "two_factor/confirm.html", {
        "form": form, "title": "Remove the second sign-in step", "button": "Remove",
        "lead": "Removes your authenticator app and backup codes; sign-ins then ask for the password only."})


@login_required(login_url="/admin/login/")
def backup_codes(request):
    """New backup codes, shown on this page once, after a current code."""
    form = CurrentCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.two_factor_backup_codes_make(user=request.user,
                                                          current_code=form.cleaned_data["current_code"])
        except ValidationError as error:
            _form_errors(form, error)
        else:
            return render(request, "two_factor/backup_codes.html", {"codes": codes, "title": "Backup codes"})
    return render(request, "two_factor/confirm.html", {
        "form": form, "title": "Backup codes", "button": "Make new backup codes",
        "lead": "Ten codes, each good for one sign-in when your phone is not at hand. Making new ones "
                "stops the earlier ones."})


app_name = "two_factor"
urlpatterns = [
    path("verify/", verify, name="verify"),
    path("setup/", setup, name="setup"),
    path("remove/", remove, name="remove"),
    path("backup-codes/", backup_codes, name="backup_codes"),
]
