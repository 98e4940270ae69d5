"""The policy document admins write: claim renames can never stand in for a token's own claims."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.identity.client_policy import PolicyDocument


@pytest.mark.parametrize(
    "rename",
    [
        {"roles": "aud"},
        {"department": "iss"},
        {"groups": "nonce"},
        {"roles": "sub"},
        {"org": "email"},
        {"roles": "groups"},  # would collide with the groups claim
        {"roles": "x", "groups": "x"},
        {"roles": "has space"},
        {"unknown": "fine"},
    ],
)
def test_renames_that_are_refused(rename: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        PolicyDocument.model_validate({"claims": {"rename": rename}})


def test_a_rename_to_a_name_of_the_apps_own() -> None:
    document = PolicyDocument.model_validate(
        {"claims": {"rename": {"roles": "authorities", "department": "dept"}}}
    )
    assert document.claims.rename == {"roles": "authorities", "department": "dept"}
