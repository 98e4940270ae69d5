"""Token exchange (RFC 8693) as delegation: a service (the mobile office back end, a portal)
trades a person's access token it received for one to another department API. The new token
keeps the person as ``sub`` and names the service in ``act`` (§4.1), nesting any earlier actor.

Which client may exchange for which API is the API's ``exchange_clients`` (a city-wide
decision, see ``gateway/admin/resources.py``). The subject token must be one of ours, active,
and issued to the exchanging client or meant for it (its ``aud``)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
    grants,
)
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list

from gateway.oauth.models import GrantContext, OAuthClient, grant_context
from policies.clients import TOKEN_EXCHANGE

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 (a URN)
# What the new token keeps of the subject token (besides sub): who signed in, and how.
_KEPT = ("auth_time", "acr", "sid")


def _meant_for(claims: dict[str, Any], client_id: str, context: GrantContext) -> bool:
    """Issued to the client, or naming it (or an API that lets it ask) as an audience."""
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id in (claims.get("client_id"), *audiences):
        return True
    return any(
        client_id in resource.allowed_clients
        for aud in audiences
        if isinstance(aud, str) and (resource := context.resources.get(aud)) is not None
    )


class TokenExchangeGrant(grants.BaseGrant, grants.TokenEndpointMixin):
    """RFC 8693 §2 for access tokens of this gateway, issuing access tokens."""

    GRANT_TYPE = TOKEN_EXCHANGE
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def validate_token_request(self) -> None:
        client: OAuthClient = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("The client may not exchange tokens.")
        self.request.client = client
        form = self.request.form
        if not form.get("subject_token"):
            raise InvalidRequestError("Missing 'subject_token' parameter.")
        if form.get("subject_token_type") != ACCESS_TOKEN_TYPE:
            raise InvalidRequestError("subject_token_type must be an access token's (RFC 8693).")
        if form.get("requested_token_type", ACCESS_TOKEN_TYPE) != ACCESS_TOKEN_TYPE:
            raise InvalidRequestError("Only access tokens are issued by exchange.")
        if "actor_token" in form:
            raise InvalidRequestError("actor_token is not supported: the client is the actor.")
        context = grant_context.get()
        subject = context.subject_claims
        client_id = client.get_client_id()
        if subject is None or not _meant_for(subject, client_id, context):
            raise InvalidGrantError("The subject token is invalid, expired or revoked.")
        target = context.resource
        if target is None or client_id not in target.exchange_clients:
            raise OAuth2Error(
                error="invalid_target",
                description="Name an API this client may exchange tokens for (resource).",
            )
        self.request.scope = self._scope(subject, target.scopes, form.get("scope"))
        context.exchange_claims = self._claims(subject, client_id)

    @staticmethod
    def _scope(subject: dict[str, Any], accepted: tuple[str, ...], asked: str | None) -> str:
        """What the person granted and the API accepts; a scope asked beyond that is refused."""
        available = [s for s in scope_to_list(subject.get("scope")) or [] if s in accepted]
        requested = scope_to_list(asked) or available
        if not set(requested) <= set(available):
            raise InvalidScopeError("The subject token does not cover these scopes for the API.")
        if not requested:
            raise InvalidScopeError("The subject token has no scope this API accepts.")
        return list_to_scope(list(dict.fromkeys(requested)))

    @staticmethod
    def _claims(subject: dict[str, Any], client_id: str) -> dict[str, Any]:
        actor: dict[str, Any] = {"sub": client_id}
        if isinstance(subject.get("act"), dict):
            actor["act"] = subject["act"]  # RFC 8693 §4.1: the earlier actors, nested
        claims = {"sub": subject.get("sub"), "act": actor}
        claims.update({name: subject[name] for name in _KEPT if name in subject})
        return claims

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token = self.generate_token(scope=self.request.scope, include_refresh_token=False)
        token["issued_token_type"] = ACCESS_TOKEN_TYPE
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER
