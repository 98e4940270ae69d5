"""The console's routes, under ``/admin/`` beside the admin API (``/admin/api/v1``)."""

from __future__ import annotations

from starlette.routing import Route

from gateway.console import (
    account_actions,
    app_claims,
    app_pages,
    app_subjects,
    audit_pages,
    enterprise_pages,
    group_pages,
    home,
    import_pages,
    key_pages,
    org_pages,
    people_pages,
    policy_pages,
    provider_pages,
    role_pages,
    signin,
)

ACCOUNT = "/admin/accounts/{account_id}"
DEPARTMENT = "/admin/departments/{department_id}"
APP = "/admin/apps/{client_id}"
ENTERPRISE = "/admin/enterprises/{org_id}"
GROUP = "/admin/groups/{group_id}"


def routes() -> list[Route]:
    return [
        Route("/admin", home.to_home, methods=["GET"]),
        Route("/admin/", home.home, methods=["GET"]),
        Route("/admin/login", signin.sign_in, methods=["GET"]),
        Route("/admin/callback", signin.callback, methods=["GET"]),
        Route("/admin/logout", signin.sign_out, methods=["POST"]),
        Route("/admin/signed-out", signin.signed_out, methods=["GET"]),
        Route("/admin/accounts", people_pages.accounts, methods=["GET"]),
        Route(ACCOUNT, people_pages.account, methods=["GET"]),
        Route(f"{ACCOUNT}/status", people_pages.set_status, methods=["POST"]),
        Route(f"{ACCOUNT}/unlock", people_pages.unlock, methods=["POST"]),
        Route(f"{ACCOUNT}/otp/reset", people_pages.reset_otp, methods=["POST"]),
        Route(f"{ACCOUNT}/sessions/end", people_pages.end_sessions, methods=["POST"]),
        Route(
            f"{ACCOUNT}/sessions/{{session_id}}/end", account_actions.end_session, methods=["POST"]
        ),
        Route(f"{ACCOUNT}/password/reset", account_actions.reset_password, methods=["POST"]),
        Route(f"{ACCOUNT}/passkeys/reset", account_actions.reset_passkeys, methods=["POST"]),
        Route(
            f"{ACCOUNT}/recovery-codes/reset",
            account_actions.reset_recovery_codes,
            methods=["POST"],
        ),
        Route("/admin/departments", org_pages.departments, methods=["GET"]),
        Route("/admin/departments", org_pages.create, methods=["POST"]),
        Route(DEPARTMENT, org_pages.department, methods=["GET"]),
        Route(f"{DEPARTMENT}/rename", org_pages.rename, methods=["POST"]),
        Route(f"{DEPARTMENT}/move", org_pages.move, methods=["POST"]),
        Route(f"{DEPARTMENT}/delete", org_pages.delete, methods=["POST"]),
        Route("/admin/groups", group_pages.group_list, methods=["GET"]),
        Route("/admin/groups", group_pages.create_group, methods=["POST"]),
        Route(GROUP, group_pages.group_page, methods=["GET"]),
        Route(f"{GROUP}/update", group_pages.update_group, methods=["POST"]),
        Route(f"{GROUP}/members", group_pages.add_member, methods=["POST"]),
        Route(
            f"{GROUP}/members/{{account_id}}/remove", group_pages.remove_member, methods=["POST"]
        ),
        Route(f"{GROUP}/delete", group_pages.delete_group, methods=["POST"]),
        Route("/admin/apps", app_pages.app_list, methods=["GET"]),
        Route("/admin/apps", app_pages.create, methods=["POST"]),
        Route("/admin/apps/new", app_pages.new_app, methods=["GET"]),
        Route(APP, app_pages.app_page, methods=["GET"]),
        Route(f"{APP}/secret", app_pages.rotate, methods=["POST"]),
        Route(f"{APP}/state", app_pages.set_state, methods=["POST"]),
        Route(f"{APP}/subject", app_subjects.set_subject, methods=["POST"]),
        Route(f"{APP}/claims", app_claims.claims_page, methods=["GET"]),
        Route(f"{APP}/claims", app_claims.save_claims, methods=["POST"]),
        Route(f"{APP}/policy", policy_pages.policy_page, methods=["GET"]),
        Route(f"{APP}/policy", policy_pages.save, methods=["POST"]),
        Route(f"{APP}/policy/preview", policy_pages.preview, methods=["POST"]),
        Route("/admin/roles", role_pages.role_list, methods=["GET"]),
        Route("/admin/roles", role_pages.create_role, methods=["POST"]),
        Route("/admin/roles/{role_id}", role_pages.role_page, methods=["GET"]),
        Route("/admin/roles/{role_id}/update", role_pages.update_role, methods=["POST"]),
        Route("/admin/roles/{role_id}/delete", role_pages.delete_role, methods=["POST"]),
        Route("/admin/roles/{role_id}/assignments", role_pages.assign, methods=["POST"]),
        Route("/admin/assignments/{assignment_id}/delete", role_pages.unassign, methods=["POST"]),
        Route("/admin/enterprises", enterprise_pages.enterprises, methods=["GET"]),
        Route(ENTERPRISE, enterprise_pages.enterprise, methods=["GET"]),
        Route(f"{ENTERPRISE}/delegations", enterprise_pages.appoint, methods=["POST"]),
        Route(
            f"{ENTERPRISE}/delegations/{{delegation_id}}/revoke",
            enterprise_pages.revoke,
            methods=["POST"],
        ),
        Route("/admin/providers", provider_pages.providers, methods=["GET"]),
        Route("/admin/providers", provider_pages.add, methods=["POST"]),
        Route("/admin/providers/new", provider_pages.new_provider, methods=["GET"]),
        Route("/admin/providers/{provider_id}", provider_pages.provider, methods=["GET"]),
        Route("/admin/providers/{provider_id}/delete", provider_pages.remove, methods=["POST"]),
        Route("/admin/providers/{provider_id}/test", provider_pages.test, methods=["POST"]),
        Route("/admin/providers/{provider_id}/state", provider_pages.switch, methods=["POST"]),
        Route("/admin/keys", key_pages.keys, methods=["GET"]),
        Route("/admin/keys/rotate", key_pages.rotate, methods=["POST"]),
        Route("/admin/import", import_pages.import_page, methods=["GET"]),
        Route("/admin/import/departments", import_pages.check_departments, methods=["POST"]),
        Route("/admin/import/accounts", import_pages.check_accounts, methods=["POST"]),
        Route(
            "/admin/import/departments/confirm",
            import_pages.confirm_departments,
            methods=["POST"],
        ),
        Route("/admin/import/accounts/confirm", import_pages.confirm_accounts, methods=["POST"]),
        Route("/admin/audit", audit_pages.audit, methods=["GET"]),
        Route("/admin/audit/export.{format:str}", audit_pages.export, methods=["GET"]),
    ]
