"""Where to go after a form: the ``next`` the page was given, only when it stays on this site."""

from __future__ import annotations

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, fallback: str) -> str:
    """``next`` from the POST or the query string when it is a path or URL of this host (and HTTPS
    when the request is), else ``fallback``: a link that sends someone elsewhere is never followed."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback
