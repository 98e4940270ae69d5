"""What an administrator reaches: the department subtrees (paths) an admin scope was granted
in. A record outside them does not exist for that admin (404), unless the admin may read it
and only the change is out of reach (403)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.server.responses import Forbidden, Missing


def inside(path: str | None, subtree: str) -> bool:
    if subtree == "":
        return True
    return path is not None and (path == subtree or path.startswith(subtree + "/"))


@dataclass(frozen=True)
class Reach:
    paths: tuple[str, ...]  # where it may act ("" is the whole city)
    readable: tuple[str, ...] = ()  # where it may only look

    @classmethod
    def everywhere(cls) -> Reach:
        return cls(("",), ("",))

    @property
    def city_wide(self) -> bool:
        return "" in self.paths

    @property
    def limit(self) -> Sequence[str] | None:
        """For SQL filters: None when nothing limits it."""
        return None if self.city_wide else self.paths

    def covers(self, path: str | None) -> bool:
        """Whether a department at ``path`` (None: no department) is inside the reach."""
        return any(inside(path, subtree) for subtree in self.paths)

    def require(self, path: str | None, what: str) -> None:
        """404 for what the admin may not see, 403 for what it may see but not change."""
        if self.covers(path):
            return
        if any(inside(path, subtree) for subtree in self.readable):
            raise Forbidden(f"The {what} is outside the part of the organisation you administer.")
        raise Missing(f"No such {what}.")

    def require_city_wide(self, what: str) -> None:
        if not self.city_wide:
            raise Forbidden(f"Only city-wide administrators manage {what}.")

    def require_power_over(self, held: Mapping[str, Sequence[str]], what: str = "account") -> None:
        """An admin acts only on accounts that hold no more power than itself: 403 when the
        account holds an admin role (``held``: role -> subtree paths, "" everywhere) anywhere
        the reach does not cover, wider or alongside."""
        if self.city_wide:
            return
        beyond = sorted({name for name, paths in held.items() for p in paths if not self.covers(p)})
        if beyond:
            raise Forbidden(
                f"The {what} holds {', '.join(beyond)} beyond the part of the organisation you "
                "administer."
            )
