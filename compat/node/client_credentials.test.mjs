// openid-client (v6) and jose against a running Portico. Run through compat/run.sh,
// which exports PORTICO_BASE, PORTICO_TENANT, PORTICO_CLIENT_ID, PORTICO_CLIENT_SECRET
// (and PORTICO_RO_CLIENT_ID / PORTICO_RO_CLIENT_SECRET for an app with fewer permissions).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import * as jose from 'jose';

const GRAPH = 'https://graph.microsoft.com';
const SCOPE = 'https://graph.microsoft.com/.default';
const GRANTED = ['User.ReadWrite.All', 'Group.ReadWrite.All', 'AuditLog.Read.All'];

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through compat/run.sh`);
  return v;
}

const base = env('PORTICO_BASE').replace(/\/$/, '');
const tenant = env('PORTICO_TENANT');
const clientId = env('PORTICO_CLIENT_ID');
const clientSecret = env('PORTICO_CLIENT_SECRET');
const issuer = `${base}/${tenant}/v2.0`;
// The issuer is plain http on loopback.
const insecure = { execute: [client.allowInsecureRequests] };

let config;
let jwks;

before(async () => {
  config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, insecure);
  jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
});

test('discovery returns Portico metadata for the tenant', () => {
  const md = config.serverMetadata();
  assert.equal(md.issuer, issuer);
  assert.equal(md.token_endpoint, `${base}/${tenant}/oauth2/v2.0/token`);
  assert.equal(md.jwks_uri, `${base}/${tenant}/discovery/v2.0/keys`);
  assert.ok(md.grant_types_supported.includes('client_credentials'));
});

async function verify(accessToken) {
  return jose.jwtVerify(accessToken, jwks, { issuer, audience: GRAPH });
}

test('client_credentials (client_secret_post) gives a token jose verifies via JWKS', async () => {
  const tokens = await client.clientCredentialsGrant(config, { scope: SCOPE });
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(tokens.expiresIn() > 0);
  const { payload, protectedHeader } = await verify(tokens.access_token);
  assert.equal(protectedHeader.alg, 'RS256');
  assert.ok(protectedHeader.kid);
  assert.equal(payload.tid, tenant);
  assert.equal(payload.appid, clientId);
  assert.ok(Array.isArray(payload.roles));
  for (const role of GRANTED) assert.ok(payload.roles.includes(role), `roles ${payload.roles} lack ${role}`);

  // The token is accepted by the Graph-shaped API.
  const res = await fetch(`${base}/v1.0/users`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.ok(Array.isArray(body.value));
});

test('client_credentials with client_secret_basic works too', async () => {
  const basic = await client.discovery(new URL(issuer), clientId, undefined, client.ClientSecretBasic(clientSecret), insecure);
  const tokens = await client.clientCredentialsGrant(basic, { scope: SCOPE });
  const { payload } = await verify(tokens.access_token);
  assert.equal(payload.appid, clientId);
});

test('a tampered token fails jose verification', async () => {
  const tokens = await client.clientCredentialsGrant(config, { scope: SCOPE });
  const [h, p, s] = tokens.access_token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  claims.roles = [...claims.roles, 'Directory.ReadWrite.All'];
  const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
  await assert.rejects(verify(forged), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  // Wrong audience is rejected as well.
  await assert.rejects(jose.jwtVerify(tokens.access_token, jwks, { issuer, audience: 'api://other' }), {
    code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
  });
});

test('a wrong secret surfaces as an OAuth invalid_client error (401)', async () => {
  const bad = await client.discovery(new URL(issuer), clientId, 'not-the-secret', undefined, insecure);
  await assert.rejects(client.clientCredentialsGrant(bad, { scope: SCOPE }), (err) => {
    assert.ok(err instanceof client.ResponseBodyError, `unexpected ${err?.name}: ${err?.message}`);
    assert.equal(err.error, 'invalid_client');
    assert.equal(err.status, 401);
    return true;
  });
});

test('an app with fewer permissions gets fewer roles and a 403 on writes', async (t) => {
  const roId = process.env.PORTICO_RO_CLIENT_ID;
  const roSecret = process.env.PORTICO_RO_CLIENT_SECRET;
  if (!roId || !roSecret) return t.skip('PORTICO_RO_CLIENT_ID/SECRET not set');
  const ro = await client.discovery(new URL(issuer), roId, roSecret, undefined, insecure);
  const tokens = await client.clientCredentialsGrant(ro, { scope: SCOPE });
  const { payload } = await verify(tokens.access_token);
  assert.deepEqual(payload.roles, ['User.Read.All']);
  const res = await fetch(`${base}/v1.0/groups`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ displayName: 'x', mailEnabled: false, mailNickname: 'x', securityEnabled: true }),
  });
  assert.equal(res.status, 403);
  assert.equal((await res.json()).error.code, 'Authorization_RequestDenied');
});
