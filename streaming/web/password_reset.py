"""Password reset by mail, offered only where mail can go out.

Without a mail backend the reset form took an address, failed to send (or "sent" nowhere)
and told the user to check their inbox. So the reset is offered only when `EMAIL_HOST` is set
(SMTP) or `EMAIL_BACKEND` names a backend that delivers somewhere (the console one, in
development), and only with local passwords (`LOCAL_LOGIN`). Otherwise the login page has no
link and every reset page, Django's and django-allauth's, answers 404. Read per request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, re_path

NO_MAIL = "django.core.mail.backends.dummy.EmailBackend"  # settings' default without EMAIL_HOST


def password_reset_offered() -> bool:
    return bool(settings.LOCAL_LOGIN) and settings.EMAIL_BACKEND != NO_MAIL


def _only_with_mail(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not password_reset_offered():
            raise Http404("password reset needs mail, and none is configured")
        return view(request, *args, **kwargs)

    return gated


def _not_here(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("password reset is Django's here")


# Mounted under accounts/ before Django's and allauth's own URLs, so these answer first.
urlpatterns = [
    path(
        "password_reset/",
        _only_with_mail(auth_views.PasswordResetView.as_view()),
        name="password_reset",
    ),
    path(
        "password_reset/done/",
        _only_with_mail(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        _only_with_mail(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        _only_with_mail(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
    # allauth's reset pages (its own flow, by its e-mail records): one flow is enough.
    re_path(r"^password/reset/", _not_here),
]
