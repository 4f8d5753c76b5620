"""Issue 10: staff log in to the console; roles are enforced on pages and actions."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from kassa.core.access import Role
from tests.browser.conftest import PASSWORD, Server, log_in, shot, staff_user
from tests.conftest import TenantAccess


def test_login_wrong_password_then_right_then_logout(
    page: Page, server: Server, tenant: TenantAccess
) -> None:
    email = staff_user(server.ctx, tenant, Role.ADMIN)
    page.goto(f"{server.url}/console/customers")
    expect(page).to_have_url(re.compile(r"/console/login\?next=%2Fconsole%2Fcustomers"))
    page.get_by_label("Workspace (tenant id)").fill(tenant.id)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("The email or password is wrong.")
    shot(page, "console-login-refused")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{server.url}/console/customers")
    expect(page.get_by_text("Admin · admin")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.goto(f"{server.url}/console/customers")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))


def test_invitation_link_sets_the_password(page: Page, server: Server, tenant: TenantAccess) -> None:
    from kassa.services import staff_auth, users

    user = users.create_user(
        server.ctx, tenant.actor, email="new@example.com", name="New", role_name="support"
    )
    _, token = staff_auth.invite(server.ctx, tenant.actor, user.id)
    page.goto(f"{server.url}/console/invitations/{token}")
    page.get_by_label("New password").fill("short")
    page.evaluate("document.querySelector('#password').removeAttribute('minlength')")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("alert")).to_contain_text("12")
    shot(page, "console-invitation-weak-password")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page).to_have_url(f"{server.url}/console/login?tenant={tenant.id}")
    log_in(page, server, tenant, "new@example.com")
    expect(page.get_by_text("New · support")).to_be_visible()
