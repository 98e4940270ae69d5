"""Prepare a fresh Yihaotong instance for the bench (settings from YIHAOTONG_* variables):
schema and keys, a web app, a public mobile app, a client_credentials client and the sign-in
accounts. Prints one
JSON object with their ids and secrets.

    python -m bench.provision USERS PASSWORD REDIRECT_URI [ACCESS_TOKEN_FORMAT]

The web app's access tokens are opaque unless ACCESS_TOKEN_FORMAT says jwt (the peer's code-flow
access tokens are opaque); the client_credentials client's are JWTs, as the peer's are.
"""

from __future__ import annotations

import asyncio
import json
import sys

from gateway.server.services import initialize, open_services
from gateway.server.settings import Settings


async def main(
    users: int, password: str, redirect_uri: str, access_format: str = "opaque"
) -> dict[str, object]:
    settings = Settings()
    await initialize(settings)
    services = await open_services(settings)
    try:
        web = await services.clients.register(
            name="Bench web app",
            redirect_uris=[redirect_uri],
            access_token_format=access_format,
            # As measured before new apps became pairwise (and as the peer serves it): a
            # pairwise sub costs UserInfo one more read, to map it back to the account.
            subject_type="public",
        )
        # The mobile app of the DPoP twins: public (PKCE), its access tokens and refresh tokens
        # bound to its DPoP key, otherwise as the web app.
        app = await services.clients.register(
            name="Bench mobile app",
            redirect_uris=[redirect_uri],
            public=True,
            access_token_format=access_format,
            subject_type="public",
        )
        cc = await services.clients.register(
            name="Bench service", grant_types=["client_credentials"], scopes=["bench.read"]
        )
        names = []
        for n in range(users):
            account = await services.accounts.create_local(
                username=f"bench{n:02d}",
                password=password,
                name="Bench User",
                email=f"bench{n:02d}@example.test",
            )
            names.append(account.username)
    finally:
        await services.close()
    return {
        "web": {"client_id": web.client.client_id, "client_secret": web.client_secret},
        "cc": {"client_id": cc.client.client_id, "client_secret": cc.client_secret},
        "app": {"client_id": app.client.client_id},
        "users": names,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1]), sys.argv[2], *sys.argv[3:5]))))
