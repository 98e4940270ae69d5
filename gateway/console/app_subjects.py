"""An app's subject identifiers (`sub`) and pairwise sector on the console's forms: pairwise
per sector by default (OIDC Core §8.1); public subjects, and a sector shared with another
department's apps, are city-wide decisions given with a reason that the audit entry keeps
(``subject_type_reason``, ``sector_reason`` of the admin API, ``gateway/admin/sectors.py``)."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from gateway.admin import apps
from gateway.admin.http import validated
from gateway.admin.models import ClientChanges
from gateway.console.context import Console, view

REASONS = ("subject_type_reason", "sector_reason")


def subject_values(form: dict[str, str]) -> dict[str, str | None]:
    """The subject and sector fields a form sent: a reason left empty is no reason, an empty
    sector is the app's own (none registered)."""
    values: dict[str, str | None] = {}
    if "subject_type" in form:
        values["subject_type"] = form["subject_type"]
    for name in REASONS:
        if form.get(name, "").strip():
            values[name] = form[name].strip()
    if "sector_identifier" in form:
        values["sector_identifier"] = form["sector_identifier"].strip() or None
    return values


@view("patch_client")
async def set_subject(console: Console) -> Response:
    writer = console.writer
    client_id = console.request.path_params["client_id"]
    body = validated(ClientChanges, subject_values(console.form), "body")
    await apps.update_client(
        console.services,
        console.actor,
        writer,
        client_id,
        body.model_dump(exclude_unset=True),
        console.precondition(),
    )
    return RedirectResponse(f"/admin/apps/{client_id}?done=subject_saved", status_code=303)
