// The device authorization grant (RFC 8628) as panva's openid-client runs it: discovery, the
// device authorization request, then polling until the person answers. Prints one JSON line
// with the codes for the person, then one with the outcome.
import * as client from "openid-client";

const [issuer, clientId] = process.argv.slice(2);
const say = (message) => process.stdout.write(JSON.stringify(message) + "\n");

try {
  const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const started = await client.initiateDeviceAuthorization(config, { scope: "openid profile" });
  say({
    user_code: started.user_code,
    verification_uri: started.verification_uri,
    verification_uri_complete: started.verification_uri_complete,
  });
  try {
    const tokens = await client.pollDeviceAuthorizationGrant(config, started);
    const claims = tokens.claims();
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    say({
      result: {
        sub: claims.sub,
        amr: claims.amr,
        token_type: tokens.token_type,
        refresh: Boolean(tokens.refresh_token),
        name: userinfo.name,
      },
    });
  } catch (error) {
    say({ refused: error.error || String(error) });
  }
} catch (error) {
  say({ error: String(error && error.stack ? error.stack : error) });
}
