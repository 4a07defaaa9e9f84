// Another Portico deployment as a guest's home OpenID Provider: compat/run.sh starts a second
// `portico serve` (its own data dir and port) with the tenant "Fabrikam Remote"
// (fabrikam-remote.test), a member with a password and a confidential app whose redirect URI is
// the first deployment's federation callback. The first deployment is configured, through Graph,
// with an openIdConnectIdentityProvider pointing at the second one's discovery document; a member
// of the remote tenant is invited and redeems through the second deployment's hosted sign-in
// pages (identify, password, consent), then signs in to an application of the resource tenant.
// Both deployments are driven over plain HTTP with cookie jars kept per origin.
//
// Run through compat/run.sh, which exports PORTICO_BASE, PORTICO_TENANT,
// PORTICO_FED_CLIENT_ID / PORTICO_FED_CLIENT_SECRET (the first deployment) and PORTICO2_BASE,
// PORTICO2_TENANT, PORTICO2_USER, PORTICO2_USER_PASSWORD, PORTICO2_CLIENT_ID /
// PORTICO2_CLIENT_SECRET (the second).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  Browser,
  env,
  walk,
  answerer,
  describe,
  claimsOf,
  appToken,
  graphClient,
  registerPublicClient,
  authorizeRequest,
  redeemCode,
} from './federation_browser.mjs';

const base = env('PORTICO_BASE').replace(/\/$/, '');
const tenant = env('PORTICO_TENANT');
const adminId = env('PORTICO_FED_CLIENT_ID');
const adminSecret = env('PORTICO_FED_CLIENT_SECRET');
const base2 = env('PORTICO2_BASE').replace(/\/$/, '');
const tenant2 = env('PORTICO2_TENANT');
const remoteUser = env('PORTICO2_USER');
const remotePassword = env('PORTICO2_USER_PASSWORD');
const remoteClientId = env('PORTICO2_CLIENT_ID');
const remoteClientSecret = env('PORTICO2_CLIENT_SECRET');

const issuer2 = `${base2}/${tenant2}/v2.0`;
const remoteDomain = remoteUser.split('@')[1];
const callback = `${base}/${tenant}/federation/oidc/callback`;
const AFTER = 'https://example.org/after-remote';
const APP_REDIRECT = 'http://127.0.0.1:9/compat/federation-portico';
const portico1 = new URL(base).origin;
const portico2 = new URL(base2).origin;

let graph;
let provider;
let appId;
const guest = {}; // { id, issuerAssignedId }
let remoteSub; // `sub` of the second deployment's ID token for its client
const answer = answerer({ login: remoteUser, password: remotePassword });

before(async () => {
  graph = graphClient(base, await appToken(base, tenant, adminId, adminSecret));
  appId = await registerPublicClient(graph, 'Compat federation app (Portico home)', APP_REDIRECT);
});

/** The second deployment's own answer to its client: authorize with the first deployment's
 * callback as redirect URI, stop before following it, redeem the code with the client secret. */
async function directSignIn() {
  const req = authorizeRequest(base2, tenant2, remoteClientId, callback, { scope: 'openid email profile' });
  const outcome = await walk(new Browser(), req.url.href, { answer, stop: (u) => u.href.startsWith(callback) });
  assert.ok(outcome.stopped, describe(outcome));
  const code = outcome.stopped.searchParams.get('code');
  assert.ok(code, outcome.stopped.href);
  assert.equal(outcome.stopped.searchParams.get('iss'), issuer2);
  return redeemCode(base2, tenant2, {
    clientId: remoteClientId,
    clientSecret: remoteClientSecret,
    code,
    redirectUri: callback,
    verifier: req.verifier,
  });
}

// compat/run.sh makes no token and no JWKS request at the second deployment, so this is its
// tenant's first token: the signing key is created on the way (what a partner's redemption
// meets on a home tenant that never issued a token before).
test("the second deployment's fresh tenant issues its first token through the authorization code grant", async () => {
  const tokens = await directSignIn();
  assert.ok(tokens.id_token);
});

test("the second deployment's ID token carries the address (email) for this client", async (t) => {
  // Creates the tenant's signing key if the test above could not (its JWKS is never empty).
  const meta = await (await fetch(`${issuer2}/.well-known/openid-configuration`)).json();
  const jwks = await fetch(meta.jwks_uri);
  assert.equal(jwks.status, 200, await jwks.clone().text());
  const id = claimsOf((await directSignIn()).id_token);
  t.diagnostic(`second deployment ID token claims: ${Object.keys(id).sort().join(', ')}`);
  t.diagnostic(`email=${id.email} email_verified=${id.email_verified}`);
  assert.equal(id.iss, issuer2);
  assert.equal(id.aud, remoteClientId);
  assert.equal(id.email?.toLowerCase(), remoteUser.toLowerCase(), `no email claim: ${JSON.stringify(id)}`);
  remoteSub = id.sub;
});

test('Graph configures the second deployment as an OpenID provider for its domain', async () => {
  const r = await graph('POST', '/v1.0/identity/identityProviders', {
    '@odata.type': '#microsoft.graph.openIdConnectIdentityProvider',
    displayName: 'Fabrikam Remote (Portico)',
    clientId: remoteClientId,
    clientSecret: remoteClientSecret,
    metadataUrl: `${issuer2}/.well-known/openid-configuration`,
    scope: 'openid email profile',
    responseType: 'code',
    responseMode: 'query',
    claimsMapping: { userId: 'sub', email: 'email', displayName: 'name' },
    domains: [remoteDomain],
    allowPrivateNetwork: true,
    // Portico's ID tokens carry `email` (the user's mail) but no `email_verified`.
    emailVerification: 'always',
  });
  assert.equal(r.status, 201, r.text);
  provider = r.body;
  assert.match(provider.id, /^OIDC-/, r.text);
  assert.equal(provider.clientSecret, '****', r.text);
});

test('a member of the second deployment redeems an invitation through its sign-in pages', async (t) => {
  assert.ok(provider, 'the provider was not created');
  const inv = await graph('POST', '/v1.0/invitations', {
    invitedUserEmailAddress: remoteUser,
    inviteRedirectUrl: AFTER,
    sendInvitationMessage: false,
  });
  assert.equal(inv.status, 201, inv.text);
  guest.id = inv.body.invitedUser.id;

  const outcome = await walk(new Browser(), inv.body.inviteRedeemUrl, {
    answer,
    stop: (u) => u.href.startsWith(AFTER),
  });
  assert.ok(outcome.stopped, describe(outcome));
  assert.equal(outcome.stopped.href, AFTER);
  t.diagnostic(`redemption: ${outcome.trace.join(' > ')} > ${outcome.stopped.href}`);
  const steps = outcome.trace.filter((s) => !s.endsWith('|continue'));
  assert.equal(steps[0], `${portico1}|start`, steps.join(' > '));
  assert.ok(steps.includes(`${portico2}|password`), `the home deployment did not ask for the password: ${steps.join(' > ')}`);
  assert.equal(steps.at(-1), `${portico1}|consent`, steps.join(' > '));

  const u = await graph('GET', `/v1.0/users/${guest.id}?$select=id,externalUserState,userType,identities`);
  assert.equal(u.status, 200, u.text);
  assert.equal(u.body.externalUserState, 'Accepted', u.text);
  const fed = u.body.identities.filter((i) => i.signInType === 'federated');
  assert.equal(fed.length, 1, u.text);
  assert.equal(fed[0].issuer, issuer2, u.text);
  assert.ok(fed[0].issuerAssignedId, u.text);
  if (remoteSub) assert.equal(fed[0].issuerAssignedId, remoteSub, 'issuerAssignedId is the ID token\'s sub');
  guest.issuerAssignedId = fed[0].issuerAssignedId;
});

test("the guest signs in to a resource tenant's application with the home deployment (idp = its issuer)", async () => {
  assert.ok(guest.issuerAssignedId, 'the guest did not redeem');
  const req = authorizeRequest(base, tenant, appId, APP_REDIRECT);
  const outcome = await walk(new Browser(), req.url.href, {
    answer,
    stop: (u) => u.href.startsWith(APP_REDIRECT),
  });
  assert.ok(outcome.stopped, describe(outcome));
  assert.ok(outcome.trace.includes(`${portico2}|password`), outcome.trace.join(' > '));
  const code = outcome.stopped.searchParams.get('code');
  assert.ok(code, outcome.stopped.href);
  assert.equal(outcome.stopped.searchParams.get('state'), req.state);
  const tokens = await redeemCode(base, tenant, { clientId: appId, code, redirectUri: APP_REDIRECT, verifier: req.verifier });
  const id = claimsOf(tokens.id_token);
  assert.equal(id.idp, issuer2, JSON.stringify(id));
  assert.equal(id.acct, 1, JSON.stringify(id));
  assert.equal(id.oid, guest.id, JSON.stringify(id));
  assert.equal(id.tid, tenant, JSON.stringify(id));
  assert.equal(id.iss, `${base}/${tenant}/v2.0`, JSON.stringify(id));
});
