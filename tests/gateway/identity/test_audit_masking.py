"""What reaches the audit log: personal data masked at any depth, secrets removed, and a diff
that names only what changed."""

from __future__ import annotations

from gateway.identity.audit import diff, masked


def test_personal_data_is_masked_and_secrets_removed_at_any_depth() -> None:
    entry = masked(
        {
            "after": {
                "phone": "13800138000",
                "national_id": "11010519491231002X",
                "email": "zhang.wei@tax.city.gov.cn",
                "name": "张伟",
                "client_secret": "s3cr3t",
            },
            "members": [{"phone": "13900139000"}],
            "count": 3,
        }
    )
    after = entry["after"]
    assert after["phone"] == "138****8000"
    assert after["national_id"] == "1101**********002X"
    assert after["email"].endswith("@tax.city.gov.cn") and "zhang.wei" not in after["email"]
    assert after["name"] == "张*"
    assert after["client_secret"] == "[removed]"
    assert entry["members"] == [{"phone": "139****9000"}] and entry["count"] == 3


def test_a_diff_names_only_what_changed() -> None:
    before = {"name": "税务", "parent": "city", "version": 1}
    after = {"name": "市税务局", "parent": "city", "version": 2, "new": True}
    assert diff(before, after) == {
        "name": {"before": "税务", "after": "市税务局"},
        "version": {"before": 1, "after": 2},
        "new": {"before": None, "after": True},
    }
    assert diff(None, None) == {}
