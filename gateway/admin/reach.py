"""What an administrator reaches, as the admin API answers it: the decisions of
``policies.admin_reach`` turned into 404 (a record that does not exist for this admin) and 403
(one it may see but not change)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.server.responses import Forbidden, Missing
from policies.admin_reach import (
    AdminReach,
    ReachDecision,
    decide_city_wide,
    decide_power_over,
    decide_record,
)


def enforce(decision: ReachDecision) -> None:
    """Nothing when allowed; 404 when hidden; 403 when forbidden."""
    if decision.outcome == "hidden":
        raise Missing(decision.reason)
    if decision.outcome == "forbidden":
        raise Forbidden(decision.reason)


@dataclass(frozen=True)
class Reach(AdminReach):
    def require(self, path: str | None, what: str) -> None:
        """404 for what the admin may not see, 403 for what it may see but not change."""
        enforce(decide_record(self, path, what))

    def require_city_wide(self, what: str) -> None:
        enforce(decide_city_wide(self, what))

    def require_power_over(self, held: Mapping[str, Sequence[str]], what: str = "account") -> None:
        """403 when the account holds an admin role beyond the reach (``decide_power_over``)."""
        enforce(decide_power_over(self, held, what))
