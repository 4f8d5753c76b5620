"""Issue 10: which staff role may do what in the console."""

from __future__ import annotations

import pytest

from kassa.core.access import Permission, Role, may

TABLE = {
    # role: view, billing, customer care, administration
    Role.ADMIN: (True, True, True, True),
    Role.FINANCE: (True, True, True, False),
    Role.SUPPORT: (True, False, True, False),
    Role.READ_ONLY: (True, False, False, False),
}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_may_do_exactly_its_share(role: Role) -> None:
    order = (Permission.VIEW, Permission.BILLING, Permission.CUSTOMER_CARE, Permission.ADMINISTRATION)
    assert tuple(may(role, p) for p in order) == TABLE[role]


def test_every_permission_is_mapped() -> None:
    for permission in Permission:
        may(Role.ADMIN, permission)  # a permission missing from the map would raise KeyError
        assert may(Role.ADMIN, permission)
