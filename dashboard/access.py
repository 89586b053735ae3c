"""Who is looking: the dashboard's roles, and when it asks for a login.

On loopback the person at the machine is its operator, as with every other command of the platform.
Bound to anything else (compose, Kubernetes, ``--host 0.0.0.0``), it asks for a password, one per role,
compared in constant time (Streamlit's documented pattern for a password from the environment).
"""

from __future__ import annotations

import hmac
import ipaddress
from enum import StrEnum

from lakehouse.settings import Settings


class Role(StrEnum):
    OPERATOR = "operator"  # everything, live alerts with citizens' names included
    ANALYST = "analyst"  # answers, fleet health and Explore, citizens' names masked


# The pages each role sees, by their url path ("" is the overview).
PAGES = {
    Role.OPERATOR: frozenset({"", "answers", "alerts", "fleet", "explore"}),
    Role.ANALYST: frozenset({"", "answers", "fleet", "explore"}),
}


def needs_login(address: str | None) -> bool:
    """Whether a server listening on ``address`` must ask who is there: anything but loopback does
    (no address at all is every interface)."""
    if not address:
        return True
    if address == "localhost":
        return False
    try:
        return not ipaddress.ip_address(address).is_loopback
    except ValueError:
        return True  # a host name: whoever it resolves for may reach it


def role_for(password: str, settings: Settings) -> Role | None:
    """The role whose password this is, or None; every role's is compared, each in constant time."""
    given = password.encode()
    dash = settings.dashboard
    matches = {
        role: hmac.compare_digest(given, secret.get_secret_value().encode())
        for role, secret in ((Role.OPERATOR, dash.operator_password), (Role.ANALYST, dash.analyst_password))
    }
    found = [role for role, ok in matches.items() if ok]
    return found[0] if found else None


def trino_user(role: Role, settings: Settings) -> str:
    """The Trino user a role's queries run as: the analysts' masks citizens' names."""
    dash = settings.dashboard
    return dash.trino_user if role is Role.OPERATOR else dash.analyst_trino_user
