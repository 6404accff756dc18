from django.contrib import admin
from django.urls import include, path

from streaming.web import password_reset, sso

urlpatterns = [
    path("accounts/login/", sso.LoginView.as_view(), name="login"),
    path("accounts/", include(password_reset)),  # before the two below: reset needs mail
    path("accounts/", include("django.contrib.auth.urls")),
    # Single sign-on's redirects and callback (django-allauth; local sign-up is closed).
    path("accounts/", include("allauth.urls")),
    path("admin/login/", sso.admin_login),
    path("admin/", admin.site.urls),
    path("", include("streaming.web.urls")),
]

# JSON under /api/, Django's pages elsewhere (streaming/web/errors.py).
handler400 = "streaming.web.errors.bad_request"
handler403 = "streaming.web.errors.permission_denied"
handler404 = "streaming.web.errors.page_not_found"
