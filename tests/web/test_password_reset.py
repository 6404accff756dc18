"""Password reset only where mail can go out (streaming/web/password_reset.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

RESET_PAGES = [
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/MQ/set-password/",
    "/accounts/reset/done/",
    "/accounts/password/reset/",  # django-allauth's
    "/accounts/password/reset/done/",
]
LINK = 'href="/accounts/password_reset/"'


@pytest.fixture
def alice(db: Any) -> Any:
    return get_user_model().objects.create_user(
        "alice", email="alice@example.com", password="pw-alice-1"
    )


def test_without_mail_no_link_is_offered_and_every_reset_page_is_a_404(
    client: Client, settings: Any, alice: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"  # no EMAIL_HOST
    login = client.get("/accounts/login/")
    assert login.status_code == 200 and LINK not in login.content.decode()
    for page in RESET_PAGES:
        assert client.get(page).status_code == 404, page
    answer = client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert answer.status_code == 404


def test_with_mail_the_link_sends_a_reset_that_works(
    client: Client, settings: Any, alice: Any, mailoutbox: list[Any]
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert LINK in client.get("/accounts/login/").content.decode()
    assert client.get("/accounts/password_reset/").status_code == 200
    answer = client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert answer.status_code == 302 and answer["Location"] == "/accounts/password_reset/done/"
    (mail,) = mailoutbox
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.body)
    assert link, mail.body
    form = client.get(link[1], follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-new-pw-2", "new_password2": "a-new-pw-2"},
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    alice.refresh_from_db()
    assert alice.check_password("a-new-pw-2")
    assert client.get("/accounts/password/reset/").status_code == 404  # one flow: Django's


def test_without_local_passwords_there_is_nothing_to_reset(client: Client, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.LOCAL_LOGIN = False
    assert client.get("/accounts/password_reset/").status_code == 404


@pytest.mark.parametrize(
    ("env", "backend"),
    [
        ({}, "django.core.mail.backends.dummy.EmailBackend"),
        ({"EMAIL_HOST": "smtp.example.com"}, "django.core.mail.backends.smtp.EmailBackend"),
        (
            {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"},
            "django.core.mail.backends.console.EmailBackend",
        ),
    ],
)
def test_mail_is_configured_by_email_host_or_email_backend(
    tmp_path: Path, env: dict[str, str], backend: str
) -> None:
    """The rule the reset follows: no EMAIL_HOST and no EMAIL_BACKEND, no mail."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    done = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.EMAIL_BACKEND)"],
        cwd=Path(__file__).resolve().parents[2],
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "DATA_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == backend
