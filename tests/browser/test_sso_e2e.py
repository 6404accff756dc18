"""Single sign-on end to end: the served app against a real OpenID provider (the npm package
`oidc-provider`, installed here by `npm ci` from tests/oidc/package-lock.json), in Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served_app import ServedApp

OIDC_DIR = Path(__file__).resolve().parents[1] / "oidc"
GROUPS = {"frank": ["relay-admins", "everyone"], "grace": ["relay-auditors"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def provider(served_app: ServedApp) -> Iterator[tuple[ServedApp, str]]:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed for the OpenID provider of this test (apt-get install npm)")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=OIDC_DIR, check=True)
    app_port, idp_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{idp_port}"
    env = {
        **os.environ,
        "ISSUER": issuer,
        "CLIENT_ID": "relay",
        "CLIENT_SECRET": "relay-secret",
        "REDIRECT_URI": f"http://127.0.0.1:{app_port}/accounts/oidc/oidc/login/callback/",
        "GROUPS": json.dumps(GROUPS),
    }
    idp = subprocess.Popen(
        ["node", "provider.mjs"], cwd=OIDC_DIR, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert idp.stdout is not None and "ready" in idp.stdout.readline()
        served_app.env.update(
            OIDC_ISSUER=issuer,
            OIDC_CLIENT_ID="relay",
            OIDC_CLIENT_SECRET="relay-secret",
            OIDC_NAME="Team ID",
            OIDC_SCOPES="openid,profile,email,groups",
            OIDC_STAFF_GROUPS="relay-admins",
            OIDC_REVIEWER_GROUPS="relay-auditors",
            LOCAL_LOGIN="false",
        )
        served_app.start(port=app_port)
        yield served_app, issuer
    finally:
        idp.terminate()
        idp.wait(timeout=10)


def sign_in(browser, app: ServedApp, login: str) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{app.url}/accounts/login/")
    assert page.locator("input[name=password]").count() == 0  # LOCAL_LOGIN=false
    page.click("#sso-login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "anything")
    page.click("button[type=submit]")
    page.click("button[type=submit]")  # the provider's consent page
    page.wait_for_url(f"{app.url}/")
    page.context.close()


def user_row(app: ServedApp, username: str) -> dict:
    code = (
        "import json; from django.contrib.auth import get_user_model as g; "
        f"u = g().objects.get(username='{username}'); "
        "print(json.dumps({'staff': u.is_staff, 'groups': sorted(u.groups.values_list('name', flat=True))}))"
    )
    return json.loads(app.manage("shell", "-c", code).strip().splitlines()[-1])


def test_first_sso_login_creates_the_user_with_mapped_groups(browser, provider) -> None:
    app, _ = provider
    sign_in(browser, app, "frank")
    assert user_row(app, "frank") == {"staff": True, "groups": []}
    sign_in(browser, app, "grace")
    assert user_row(app, "grace") == {"staff": True, "groups": ["Reviewers"]}


def test_the_login_page_offers_the_provider_and_logout_ends_the_local_session(
    browser, provider
) -> None:
    """ "Sign in with <name>" signs in at the IdP; Log out ends the app's session: the chat
    and the API want a login again (the IdP's own session is the IdP's)."""
    app, _ = provider
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{app.url}/")
    page.wait_for_url(f"{app.url}/accounts/login/?next=/")
    assert page.inner_text("#sso-login") == "Sign in with Team ID"
    page.click("#sso-login")
    page.fill("input[name=login]", "heidi")
    page.fill("input[name=password]", "anything")
    page.click("button[type=submit]")
    page.click("button[type=submit]")  # consent
    page.wait_for_url(f"{app.url}/")
    page.wait_for_selector("#composer-input")
    assert page.inner_text(".user-name") == "heidi"
    signed_in = [c["value"] for c in context.cookies() if c["name"] == "sessionid"]
    assert signed_in and page.request.get(f"{app.url}/api/usage").status == 200
    page.click("text=Log out")
    page.wait_for_url(f"{app.url}/accounts/login/")
    assert [c for c in context.cookies() if c["name"] == "sessionid"] == []
    page.goto(f"{app.url}/")
    page.wait_for_url(f"{app.url}/accounts/login/?next=/")
    assert page.request.get(f"{app.url}/api/usage").status in (401, 403)
    # The old session cookie is dead on the server, not only dropped by the browser.
    context.add_cookies([{"name": "sessionid", "value": signed_in[0], "url": app.url}])
    assert page.request.get(f"{app.url}/api/usage").status in (401, 403)
    context.close()
