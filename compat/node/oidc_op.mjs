// A partner's OpenID Provider for the federation interop tests: panva's oidc-provider (the
// certified Node.js OP) on a free loopback port, with its development interactions (a login
// form taking any password, then a consent form) so a test drives it over plain HTTP.
//
//   const op = await startOp({ clients, accounts, keys: [signingKey('k1')] });
//   op.issuer        http://127.0.0.1:PORT
//   op.seen          what Portico sent: authorization requests, token requests, ID token kids
//   await op.swap({ keys: [signingKey('k2'), k1] })   key roll-over: a fresh provider instance
//                                                     behind the same listener (same issuer)
//   await op.close()
//
// Node 20 makes oidc-provider print an "Unsupported runtime" warning; it works regardless.
import http from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

/** An RSA signing key as a private JWK (RS256) with the given kid. */
export function signingKey(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

const jwtHeader = (jwt) => JSON.parse(Buffer.from(String(jwt).split('.')[0], 'base64url').toString('utf8'));

/**
 * Starts the OP. `clients`: oidc-provider client metadata; `accounts`: { accountId: claims }
 * (the dev login form's "login" is the account id; unknown ids are refused); `keys`: private
 * JWKs, the first one signs. `conformIdTokenClaims` (oidc-provider's default, true) keeps the
 * claims asked for by scope out of ID tokens issued next to an access token (OIDC Core §5.4:
 * they are at the userinfo endpoint); false puts them in the ID token.
 */
export async function startOp({ clients, accounts, keys, conformIdTokenClaims = false }) {
  const server = http.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = server.address().port;
  const issuer = `http://127.0.0.1:${port}`;
  const seen = { authorizations: [], tokenRequests: [], idTokenKids: [], userinfo: 0 };
  const cookieKeys = [randomBytes(32).toString('base64url')];

  const build = (signing) => {
    const provider = new Provider(issuer, {
      clients,
      jwks: { keys: signing },
      cookies: { keys: cookieKeys },
      findAccount: async (ctx, id) => {
        const claims = accounts[id];
        if (!claims) return undefined;
        return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
      },
      claims: {
        openid: ['sub'],
        email: ['email', 'email_verified'],
        profile: ['name', 'given_name', 'family_name'],
      },
      features: { devInteractions: { enabled: true } },
      // Every client must send a PKCE challenge (Portico always does, S256).
      pkce: { required: () => true },
      conformIdTokenClaims,
      // Explicit lifetimes (seconds): keeps oidc-provider from noting its defaults on every use.
      ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    });
    // Records what the relying party (Portico) sends and what the OP answers.
    provider.use(async (ctx, next) => {
      if (ctx.path === '/auth' && ctx.method === 'GET') {
        seen.authorizations.push(Object.fromEntries(new URLSearchParams(ctx.querystring)));
      }
      if (ctx.path === '/token' && ctx.method === 'POST') {
        seen.tokenRequests.push({ authorization: ctx.get('authorization') || null });
      }
      if (ctx.path === '/me') seen.userinfo += 1;
      await next();
      if (ctx.path === '/token' && ctx.body && typeof ctx.body === 'object' && ctx.body.id_token) {
        seen.idTokenKids.push(jwtHeader(ctx.body.id_token).kid);
      }
    });
    return provider;
  };

  let handler = build(keys).callback();
  server.on('request', (req, res) => handler(req, res));

  return {
    issuer,
    port,
    seen,
    metadataUrl: `${issuer}/.well-known/openid-configuration`,
    /** Replaces the provider behind the listener (new keys; sessions and grants are lost). */
    async swap({ keys: next }) {
      handler = build(next).callback();
    },
    async close() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
