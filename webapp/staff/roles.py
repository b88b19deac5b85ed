"""Who may do what in the staff app: two roles, declared on every route.

- FRONT_DESK works the queue: the leads list, a lead's page and its
  transcript, status changes and notes, conversations and red-flag reviews,
  and the account's own two-factor set-up.
- ADMIN may also export, delete (leads and conversations), see the
  dashboard (with the answers to check) and the outbox; accounts and
  retention are the command line's (webapp/staff/cli.py), run by an admin.

Every view of the blueprint declares its role with `@allow(...)`;
`views._check_role` (a before_request) refuses with 403 a route that
declares none, so a new route cannot be forgotten, and a signed-in user
whose role is not among those declared.
"""

from __future__ import annotations

from typing import Callable, Optional, Tuple, TypeVar

FRONT_DESK = "front_desk"
ADMIN = "admin"
ROLES: Tuple[str, ...] = (FRONT_DESK, ADMIN)
PUBLIC = "public"  # no sign-in needed: signing in and out
# Who may use a route declared for a role: an admin may do all front desk does.
ALLOWED = {PUBLIC: ROLES, FRONT_DESK: (FRONT_DESK, ADMIN), ADMIN: (ADMIN,)}
LABELS = {FRONT_DESK: "front desk", ADMIN: "admin"}
ATTRIBUTE = "staff_role"

View = TypeVar("View", bound=Callable)


def allow(role: str) -> Callable[[View], View]:
    """Declares the least role a view needs: PUBLIC, FRONT_DESK or ADMIN."""
    if role not in ALLOWED:
        raise ValueError(f"unknown role {role!r}")

    def declare(view: View) -> View:
        setattr(view, ATTRIBUTE, role)
        return view

    return declare


def declared(view: Optional[Callable]) -> Optional[str]:
    """The role `view` declares, or None (it is then refused to everyone)."""
    return getattr(view, ATTRIBUTE, None)


def parse(value: str) -> str:
    """A role from the command line: 'front-desk', 'front_desk' or 'admin'."""
    role = (value or "").strip().lower().replace("-", "_")
    if role not in ROLES:
        raise ValueError("a role is front-desk or admin")
    return role


def may(user_role: Optional[str], view: Optional[Callable]) -> bool:
    """Whether a user of `user_role` may use `view`."""
    role = declared(view)
    return role is not None and user_role in ALLOWED[role]
