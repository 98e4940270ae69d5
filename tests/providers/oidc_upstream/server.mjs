// A department's own OpenID provider, for the federation tests: panva's oidc-provider with
// one registered client (the gateway) and a few department accounts. Its development
// sign-in pages stand in for the department's login screen.
import Provider from "oidc-provider";

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const people = {
  "hr-001": {
    name: "赵磊",
    email: "zhaolei@hr.city.gov.cn",
    email_verified: true,
    phone_number: "13500135000",
    phone_number_verified: true,
  },
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  claims: {
    openid: ["sub"],
    profile: ["name"],
    email: ["email", "email_verified"],
    phone: ["phone_number", "phone_number_verified"],
  },
  conformIdTokenClaims: false, // the claims go into the ID token as well
  cookies: { keys: ["department-idp-test-key"] },
  async findAccount(ctx, id) {
    const person = people[id];
    if (!person) return undefined; // unknown login: the dev page shows its error
    return { accountId: id, claims: async () => ({ sub: id, ...person }) };
  },
});

// The W3C traceparent each call from the gateway carried, for the tracing test to read.
const traceparents = [];
provider.use(async (ctx, next) => {
  if (ctx.path === "/test/traceparents") {
    ctx.body = traceparents;
    return;
  }
  const traceparent = ctx.get("traceparent");
  if (traceparent) traceparents.push({ path: ctx.path, traceparent });
  await next();
});

provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`listening ${issuer}`);
});
