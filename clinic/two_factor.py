"""The second sign-in step: a code from an authenticator app (TOTP) after the password.

Staff may set one up; managers must where IONTO_MANAGER_2FA_REQUIRED is on (production's
default). The middleware sends a signed-in user who still owes the second step to it before
any admin or clinician page; the API's token endpoint asks for the code in the same request.
"""

from __future__ import annotations

import io

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django_otp import devices_for_user, match_token, user_has_device
from django_otp import login as otp_login
from django_otp.qr import write_qrcode_image

from clinic import services
from clinic.models import StaffRole
from clinic.redirects import safe_next
from clinic.selectors import staff_role

PROTECTED_PREFIXES = ("/admin/", "/clinician/")
ALLOWED_PATHS = ("/admin/login/", "/admin/logout/")


def second_step_owed(request) -> str | None:
    """'verify' or 'setup' when the signed-in user must still pass the second step, else None."""
    user = request.user
    if not user.is_authenticated or request.user.is_verified():
        return None
    if user_has_device(user):
        return "verify"
    if settings.IONTO_MANAGER_2FA_REQUIRED and staff_role(user) == StaffRole.MANAGER:
        return "setup"
    return None


class TwoFactorMiddleware:
    """After django_otp's OTPMiddleware: staff pages need the second step when it is owed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(PROTECTED_PREFIXES) and request.path not in ALLOWED_PATHS:
            owed = second_step_owed(request)
            if owed is not None:
                return redirect(f"{reverse(f'two_factor:{owed}')}?next={request.get_full_path()}")
        return self.get_response(request)


class CodeForm(forms.Form):
    token = forms.CharField(label="Code from your authenticator app", max_length=12,
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                          "autofocus": True}))


@login_required(login_url="/admin/login/")
def verify(request):
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"].strip().replace(" ", ""))
        if device is not None:
            otp_login(request, device)
            return redirect(safe_next(request, "/admin/"))
        form.add_error("token", "That code is not right; check the time on your phone and try again.")
    return render(request, "two_factor/verify.html", {"form": form, "next": safe_next(request, "/admin/"),
                                                     "title": "Second sign-in step"})


@login_required(login_url="/admin/login/")
def setup(request):
    device = services.two_factor_setup_start(user=request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.two_factor_setup_confirm(user=request.user, device=device,
                                                       token=form.cleaned_data["token"])
        except ValidationError as error:
            form.add_error("token", error.message_dict["token"][0])
        else:
            otp_login(request, device)
            return redirect(safe_next(request, "/admin/"))
    qr = io.BytesIO()
    write_qrcode_image(device.config_url, qr)
    return render(request, "two_factor/setup.html", {
        "form": form, "next": safe_next(request, "/admin/"), "title": "Set up the second sign-in step",
        "qr_svg": qr.getvalue().decode(), "secret": device.config_url.split("secret=")[1].split("&")[0],
        "has_device": any(True for _ in devices_for_user(request.user)),
    })


app_name = "two_factor"
urlpatterns = [
    path("verify/", verify, name="verify"),
    path("setup/", setup, name="setup"),
]
