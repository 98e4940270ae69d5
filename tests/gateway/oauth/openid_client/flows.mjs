// A native app and a department back end, as openid-client (panva, v6) implements them, against
// the gateway: discovery, PAR with PKCE and DPoP, the code exchange on a loopback redirect,
// UserInfo with DPoP, a DPoP refresh, and client credentials for a resource (RFC 8707).
//
// Prints {"authorize": URL} and reads the redirect the browser arrived at from stdin; then prints
// {"result": {...}} (or {"error": ...}) and exits.
import * as readline from 'node:readline'
import * as client from 'openid-client'

const [issuer, publicId, redirectUri, serviceId, serviceSecret, resource] = process.argv.slice(2)
const insecure = { execute: [client.allowInsecureRequests] } // the test gateway speaks http

function out (value) {
  process.stdout.write(JSON.stringify(value) + '\n')
}

async function nextLine () {
  const lines = readline.createInterface({ input: process.stdin })
  for await (const line of lines) {
    lines.close()
    return line
  }
}

async function main () {
  const app = await client.discovery(new URL(issuer), publicId, undefined, client.None(), insecure)
  const metadata = app.serverMetadata()
  const dpop = client.getDPoPHandle(app, await client.randomDPoPKeyPair('ES256'))
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const url = await client.buildAuthorizationUrlWithPAR(
    app,
    {
      redirect_uri: redirectUri,
      scope: 'openid profile offline_access',
      prompt: 'consent',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state
    },
    { DPoP: dpop }
  )
  out({ authorize: url.href })
  const arrived = new URL(await nextLine())
  const tokens = await client.authorizationCodeGrant(
    app, arrived, { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP: dpop }
  )
  const subject = tokens.claims().sub
  const userinfo = await client.fetchUserInfo(app, tokens.access_token, subject, { DPoP: dpop })
  const refreshed = await client.refreshTokenGrant(app, tokens.refresh_token, undefined, { DPoP: dpop })
  const again = await client.fetchUserInfo(app, refreshed.access_token, subject, { DPoP: dpop })

  const service = await client.discovery(
    new URL(issuer), serviceId, undefined, client.ClientSecretBasic(serviceSecret), insecure
  )
  const forApi = await client.clientCredentialsGrant(service, { scope: 'tax.read', resource })
  const introspected = await client.tokenIntrospection(service, forApi.access_token)
  let refused = null
  try {
    await client.clientCredentialsGrant(service, { resource: 'https://unknown.example/' })
  } catch (error) {
    refused = error.error ?? String(error)
  }
  out({
    result: {
      par_endpoint: metadata.pushed_authorization_request_endpoint,
      dpop_algs: metadata.dpop_signing_alg_values_supported,
      token_type: tokens.token_type,
      access_token: tokens.access_token,
      refresh_token_type: refreshed.token_type,
      refreshed_access_token: refreshed.access_token,
      userinfo_name: userinfo.name,
      userinfo_again_sub: again.sub,
      subject,
      api_token: forApi.access_token,
      api_introspected: introspected,
      unknown_resource_error: refused
    }
  })
}

main().catch((error) => {
  out({ error: `${error.name}: ${error.message} ${error.error ?? ''} ${error.error_description ?? ''}` })
  process.exit(1)
})
