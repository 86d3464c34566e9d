"""Bearer tokens for integrations: ``Authorization: Bearer <token>``."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from api.models import ApiToken
from api.services import token_digest
from clinic.selectors import access_cached, location_ids_visible_to, second_step_owed

SECOND_STEP_OWED = ("This session still owes the second sign-in step: enter the code from your authenticator "
                    "app at /account/2fa/verify/ (or set one up at /account/2fa/setup/), or use a token.")


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the header as 'Authorization: Bearer <token>'.")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed("The token has characters no token has.") from error
        digest = token_digest(token)
        found = access_cached(f"ionto:token:{digest}", lambda: _token_read(digest))
        # A token kept in the cache may have expired since: its expiry is checked on every request.
        if found is None or found.expires_at <= timezone.now() or not found.user.is_active:
            raise exceptions.AuthenticationFailed("The token is unknown, expired or revoked.")
        return found.user, found

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


def _token_read(digest: str) -> ApiToken | None:
    """The token with its user and role, and the user's location ids kept on the user (as
    ``location_ids_visible_to`` keeps them): the cached entry answers both, one cache read a request."""
    # The password's hash stays out of the cache: nothing a token request does reads it.
    found = (ApiToken.objects.select_related("user", "user__staff").defer("user__password")
             .filter(digest=digest, revoked_at__isnull=True, expires_at__gt=timezone.now()).first())
    if found is not None:
        location_ids_visible_to(user=found.user)
    return found


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A token from POST /api/v1/auth/token/."}


class SessionAuthentication(authentication.SessionAuthentication):
    """The admin's session, once it has passed the second sign-in step. A session that typed only the
    password is refused on every endpoint, whatever its permissions; a token is issued only after the code."""

    def authenticate(self, request):
        found = super().authenticate(request)
        if found is not None and second_step_owed(user=found[0]) is not None:
            raise exceptions.PermissionDenied(SECOND_STEP_OWED)
        return found


class VerifiedSessionScheme(SessionScheme):
    target_class = SessionAuthentication
