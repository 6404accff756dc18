"""Single sign-on through django-allauth's OpenID Connect provider (OIDC_* settings).

Local sign-up is closed (accounts are made by staff, or on a first SSO login); with
LOCAL_LOGIN=false the password form is gone and refused, the admin's too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

from streaming.services.accounts import claims_groups, user_roles_sync
from streaming.web.password_reset import password_reset_offered
from streaming.web.security import POLICY

PROVIDER_ID = "oidc"


def _claims(sociallogin: Any) -> dict[str, Any]:
    data = sociallogin.account.extra_data or {}
    # allauth keeps the userinfo and the ID token's claims; either may carry the groups.
    merged: dict[str, Any] = {}
    for part in (data.get("id_token"), data.get("userinfo"), data):
        if isinstance(part, dict):
            merged = {**part, **merged}
    return merged


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        return True

    def save_user(self, request: HttpRequest, sociallogin: Any, form: Any = None) -> Any:
        user = super().save_user(request, sociallogin, form)
        user_roles_sync(user=user, idp_groups=claims_groups(_claims(sociallogin)))
        return user

    def pre_social_login(self, request: HttpRequest, sociallogin: Any) -> None:
        if sociallogin.is_existing:
            user_roles_sync(user=sociallogin.user, idp_groups=claims_groups(_claims(sociallogin)))


class LoginView(auth_views.LoginView):
    """Django's login page, with "Sign in with <name>" when OIDC is set; without
    LOCAL_LOGIN, no password form and a POST of one is refused."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.LOCAL_LOGIN:
            return HttpResponseForbidden("Sign in with single sign-on.")
        return super().post(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        if settings.OIDC_ISSUER:
            # The SSO form's POST is redirected to the IdP: a form's redirects are held to
            # form-action too, so the issuer's origin is allowed on this page.
            origin = urlsplit(settings.OIDC_ISSUER)
            allowed = f"form-action 'self' {origin.scheme}://{origin.netloc}"
            response["Content-Security-Policy"] = POLICY.replace("form-action 'self'", allowed)
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {
            **super().get_context_data(**kwargs),
            "local_login": settings.LOCAL_LOGIN,
            "password_reset": password_reset_offered(),
            "sso_name": settings.OIDC_NAME if settings.OIDC_ISSUER else "",
            "sso_provider": PROVIDER_ID,
        }


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's own login form; without LOCAL_LOGIN, the same page as everyone's."""
    if settings.LOCAL_LOGIN:
        return admin.site.login(request)
    return auth_views.redirect_to_login(request.GET.get("next", "/admin/"))
