// A real OpenID provider for the single sign-on tests: panva's oidc-provider (OpenID Certified).
//
//   node tests/support/oidc_provider.js --port 0 --redirect-uri http://127.0.0.1:8000/sso/callback/
//        [--kid test-key] [--clock-skew SECONDS] [--id-token-ttl SECONDS]
//
// One confidential client ("dashboard", secret "dashboard-secret": code flow, PKCE required),
// two users in two groups ("alice" in grp-release, "bob" in grp-oncall; any other login is a
// user in no group), a "groups" claim in the ID token, the provider's own login and consent pages
// (its development interactions: any password is accepted). It prints one JSON line
// {"issuer": ...} once it listens on 127.0.0.1. A new RSA signing key is made at each start, under
// the given key id: two providers with the same --kid publish different keys under one name.
// --clock-skew moves the provider's clock (e.g. -600 issues tokens that expired ten minutes ago).
import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'redirect-uri': { type: 'string', multiple: true, default: [] },
    kid: { type: 'string', default: 'test-key' },
    'clock-skew': { type: 'string', default: '0' },
    'id-token-ttl': { type: 'string', default: '600' },
  },
});

const skewMs = Number(values['clock-skew']) * 1000;
if (skewMs) {
  const realNow = Date.now;
  Date.now = () => realNow() + skewMs;
}

const CLIENT = { id: 'dashboard', secret: 'dashboard-secret' };
const USERS = {
  alice: { email: 'alice@example.test', name: 'Alice', groups: ['grp-release'] },
  bob: { email: 'bob@example.test', name: 'Bob', groups: ['grp-oncall'] },
};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: values.kid, use: 'sig', alg: 'RS256' };

function configuration() {
  return {
    clients: [{
      client_id: CLIENT.id,
      client_secret: CLIENT.secret,
      redirect_uris: values['redirect-uri'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    }],
    jwks: { keys: [signingKey] },
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    // Like Entra ID: the groups travel in the ID token itself, not only at the userinfo endpoint.
    conformIdTokenClaims: false,
    ttl: { IdToken: Number(values['id-token-ttl']) },
    features: { devInteractions: { enabled: true } },
    async findAccount(ctx, id) {
      const user = USERS[id] || { email: `${id}@example.test`, name: id, groups: [] };
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: user.email,
            email_verified: true,
            name: user.name,
            preferred_username: id,
            groups: user.groups,
          };
        },
      };
    },
  };
}

const server = (await import('node:http')).createServer();
server.listen(Number(values.port), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration());
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
