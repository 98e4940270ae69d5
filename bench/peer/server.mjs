// The peer of the benchmark: panva's oidc-provider configured for the same work as Yihaotong —
// RS256 ID tokens, RS256 or ES256 JWT access tokens for client_credentials, refresh tokens
// rotated on every use, introspection, userinfo, PKCE — with its state in Redis (the adapter
// below) so that several processes can share it, as Yihaotong's do.
//
//   node server.mjs CONFIG.json
//
// CONFIG: {"port", "workers", "redis_url" (null: the in-process memory adapter),
//          "redis_prefix", "clients": [...], "account": {...}}
// Sign-in is the bench's own interaction: it signs in CONFIG.account and grants what was asked
// (the password check is measured on Yihaotong's side only).
import cluster from "node:cluster";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";

import Redis from "ioredis";
import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const issuer = `http://127.0.0.1:${config.port}`;

function signingKeys() {
  // Two keys of each algorithm, like Yihaotong's ring (active + next).
  const keys = [];
  for (const [alg, type, options] of [
    ["RS256", "rsa", { modulusLength: 2048 }],
    ["ES256", "ec", { namedCurve: "P-256" }],
  ]) {
    for (let i = 0; i < 2; i += 1) {
      const { privateKey } = generateKeyPairSync(type, options);
      keys.push({ ...privateKey.export({ format: "jwk" }), alg, use: "sig", kid: `${alg}-${i}` });
    }
  }
  return keys;
}

// -- a Redis adapter (the shape of the project's own example adapter, one round trip a write) --

const grantable = new Set(["AccessToken", "AuthorizationCode", "RefreshToken", "DeviceCode"]);
const consumable = new Set(["AuthorizationCode", "RefreshToken", "DeviceCode"]);

function redisAdapter(client) {
  return class RedisAdapter {
    constructor(name) {
      this.name = name;
    }

    key(id) {
      return `${this.name}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      const multi = client.multi();
      if (consumable.has(this.name)) multi.hset(key, { payload: JSON.stringify(payload) });
      else multi.set(key, JSON.stringify(payload));
      if (expiresIn) multi.expire(key, expiresIn);
      if (grantable.has(this.name) && payload.grantId) {
        const grantKey = `grant:${payload.grantId}`;
        multi.rpush(grantKey, key);
        // NX sets a first lifetime, GT only ever extends it: no TTL read needed.
        multi.expire(grantKey, expiresIn, "NX");
        multi.expire(grantKey, expiresIn, "GT");
      }
      if (payload.uid) multi.set(`uid:${payload.uid}`, id, "EX", expiresIn);
      await multi.exec();
    }

    async find(id) {
      if (!id) return undefined;
      if (consumable.has(this.name)) {
        const data = await client.hgetall(this.key(id));
        if (!data || !data.payload) return undefined;
        const { payload, ...rest } = data;
        return { ...rest, ...JSON.parse(payload) };
      }
      const data = await client.get(this.key(id));
      return data ? JSON.parse(data) : undefined;
    }

    async findByUid(uid) {
      return this.find(await client.get(`uid:${uid}`));
    }

    async findByUserCode() {
      return undefined;
    }

    async destroy(id) {
      await client.del(this.key(id));
    }

    async revokeByGrantId(grantId) {
      const grantKey = `grant:${grantId}`;
      const tokens = await client.lrange(grantKey, 0, -1);
      const multi = client.multi();
      for (const token of tokens) multi.del(token);
      multi.del(grantKey);
      await multi.exec();
    }

    async consume(id) {
      await client.hset(this.key(id), "consumed", Math.floor(Date.now() / 1000));
    }
  };
}

// -- the provider -----------------------------------------------------------------------------

function start(jwks) {
  const account = config.account;
  const resources = {
    "urn:bench:rs256": "RS256",
    "urn:bench:es256": "ES256",
  };
  const options = {
    clients: config.clients,
    jwks: { keys: jwks },
    cookies: { keys: ["bench-cookie-key-0123456789abcdef"] },
    pkce: { required: () => true },
    scopes: ["openid", "offline_access", "bench.read"],
    claims: {
      openid: ["sub"],
      profile: ["name", "preferred_username"],
      email: ["email", "email_verified"],
      phone: ["phone_number", "phone_number_verified"],
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // client_credentials clients get a JWT access token signed with their algorithm;
        // the authorization code flow keeps opaque tokens (its userinfo accepts only those).
        defaultResource: (ctx, client) =>
          ctx.oidc.route === "token" && ctx.oidc.params.grant_type === "client_credentials"
            ? client.bench_resource
            : undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (ctx, indicator) => ({
          scope: "bench.read",
          accessTokenFormat: "jwt",
          accessTokenTTL: 600,
          jwt: { sign: { alg: resources[indicator] } },
        }),
      },
    },
    extraClientMetadata: { properties: ["bench_resource"] },
    issueRefreshToken: (ctx, client) => client.grantTypeAllowed("refresh_token"),
    rotateRefreshToken: () => true,
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, RefreshToken: 36000 },
    async findAccount(ctx, id) {
      if (id !== account.sub) return undefined;
      return { accountId: id, claims: async () => ({ ...account }) };
    },
  };
  if (config.redis_url) {
    const client = new Redis(config.redis_url, { keyPrefix: config.redis_prefix });
    options.adapter = redisAdapter(client);
  }
  const provider = new Provider(issuer, options);

  // The bench's interaction: sign the account in and grant what was asked.
  provider.use(async (ctx, next) => {
    if (!ctx.path.startsWith("/interaction/")) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    let result;
    if (details.prompt.name === "login") {
      result = { login: { accountId: account.sub } };
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({
            accountId: details.session.accountId,
            clientId: details.params.client_id,
          });
      const missing = details.prompt.details;
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
        grant.addResourceScope(indicator, scopes.join(" "));
      }
      result = { consent: { grantId: await grant.save() } };
    }
    await provider.interactionFinished(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: true,
    });
  });

  provider.listen(config.port, "127.0.0.1", () => {
    console.log(`listening ${issuer} pid ${process.pid}`);
  });
}

if (config.workers > 1 && cluster.isPrimary) {
  // The primary only forks; every worker gets the same keys.
  const jwks = signingKeys();
  for (let i = 0; i < config.workers; i += 1) {
    cluster.fork({ BENCH_JWKS: JSON.stringify(jwks) });
  }
} else {
  start(process.env.BENCH_JWKS ? JSON.parse(process.env.BENCH_JWKS) : signingKeys());
}
