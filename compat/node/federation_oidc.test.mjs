// OpenID Connect federation against an OpenID Provider nobody here wrote: panva's oidc-provider
// (compat/node/oidc_op.mjs) plays a partner organisation's OP. An administrator configures it
// through Graph (openIdConnectIdentityProvider for the domain oidcpartner.test), invites a guest
// of that domain, and the guest redeems the invitation by signing in at the OP (development
// login and consent forms, driven over plain HTTP with per-origin cookie jars); then signs in to
// an application through the OP; the OP rolls its signing key over and the guest signs in again
// without Portico being restarted. Refusals: an address the OP does not say is verified, and a
// provider on a loopback address without allowPrivateNetwork — each shows the guest an error page
// with the request id and writes a sign-in log entry with the reason.
//
// Run through compat/run.sh, which exports PORTICO_BASE, PORTICO_TENANT and
// PORTICO_FED_CLIENT_ID / PORTICO_FED_CLIENT_SECRET (IdentityProvider.ReadWrite.All,
// User.ReadWrite.All, AuditLog.Read.All, Application.ReadWrite.All), and serves with
// --danger-accept-unverified-domains (domain routing without a DNS TXT proof).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startOp, signingKey } from './oidc_op.mjs';
import {
  Browser,
  env,
  walk,
  answerer,
  describe,
  textOf,
  claimsOf,
  appToken,
  graphClient,
  registerPublicClient,
  authorizeRequest,
  redeemCode,
  signInByRequestId,
} from './federation_browser.mjs';

const base = env('PORTICO_BASE').replace(/\/$/, '');
const tenant = env('PORTICO_TENANT');
const adminId = env('PORTICO_FED_CLIENT_ID');
const adminSecret = env('PORTICO_FED_CLIENT_SECRET');

const DOMAIN = 'oidcpartner.test';
const GUEST = `olga@${DOMAIN}`;
const UNVERIFIED = `uwe@${DOMAIN}`;
const REFUSED_DOMAIN = 'refused-partner.test';
const CONFORM_DOMAIN = 'conform-partner.test';
const AFTER = 'https://example.org/after';
const APP_REDIRECT = 'http://127.0.0.1:9/compat/federation-oidc';
const callback = `${base}/${tenant}/federation/oidc/callback`;

const ACCOUNTS = {
  olga: { email: GUEST, email_verified: true, name: 'Olga Partner', given_name: 'Olga', family_name: 'Partner' },
  uwe: { email: UNVERIFIED, email_verified: false, name: 'Uwe Unverified', given_name: 'Uwe', family_name: 'Unverified' },
  cora: { email: `cora@${CONFORM_DOMAIN}`, email_verified: true, name: 'Cora Conform' },
};
const CLIENTS = [
  {
    client_id: 'portico',
    client_secret: 's3cret',
    redirect_uris: [callback],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
];

const k1 = signingKey('partner-k1');
const k2 = signingKey('partner-k2');
let op; // the partner OP (claims in the ID token)
let graph;
let provider; // the Graph answer for the partner OP
let appId; // a public client of the resource tenant
const guest = {}; // { id }

function providerBody(over = {}) {
  return {
    '@odata.type': '#microsoft.graph.openIdConnectIdentityProvider',
    displayName: 'Partner OP',
    clientId: 'portico',
    clientSecret: 's3cret',
    metadataUrl: op.metadataUrl,
    scope: 'openid email profile',
    responseType: 'code',
    responseMode: 'query',
    claimsMapping: {
      userId: 'sub',
      email: 'email',
      displayName: 'name',
      givenName: 'given_name',
      surname: 'family_name',
    },
    domains: [DOMAIN],
    allowPrivateNetwork: true,
    emailVerification: 'claim',
    ...over,
  };
}

async function invite(address) {
  const inv = await graph('POST', '/v1.0/invitations', {
    invitedUserEmailAddress: address,
    inviteRedirectUrl: AFTER,
    sendInvitationMessage: false,
  });
  assert.equal(inv.status, 201, inv.text);
  return { url: inv.body.inviteRedeemUrl, id: inv.body.invitedUser.id };
}

/** Redeems `inviteUrl` in a fresh browser, signing in at the OP as `account`. */
async function redeem(inviteUrl, account) {
  const browser = new Browser();
  const outcome = await walk(browser, inviteUrl, {
    answer: answerer({ opAccount: account }),
    stop: (u) => u.href.startsWith(AFTER),
  });
  return { browser, outcome };
}

/** The guest signs in to the public client `appId` in `browser`; returns the token response. */
async function appSignIn(browser, login, account) {
  const req = authorizeRequest(base, tenant, appId, APP_REDIRECT);
  const outcome = await walk(browser, req.url.href, {
    answer: answerer({ login, opAccount: account }),
    stop: (u) => u.href.startsWith(APP_REDIRECT),
  });
  assert.ok(outcome.stopped, describe(outcome));
  const back = outcome.stopped;
  assert.equal(back.searchParams.get('state'), req.state, back.href);
  const code = back.searchParams.get('code');
  assert.ok(code, `no code at ${back.href}`);
  const tokens = await redeemCode(base, tenant, { clientId: appId, code, redirectUri: APP_REDIRECT, verifier: req.verifier });
  return { tokens, id: claimsOf(tokens.id_token), trace: outcome.trace, nonce: req.nonce };
}

/** The walk ended on Portico's error page naming its request id; returns that id. */
function errorPage(outcome) {
  assert.ok(outcome.page, `expected an error page, got: ${describe(outcome)}`);
  const { status, html, headers, url } = outcome.page;
  assert.ok(status >= 400 && status < 500, describe(outcome));
  assert.equal(new URL(url).origin, new URL(base).origin, `the error page is not Portico's: ${describe(outcome)}`);
  const requestId = headers.get('request-id');
  assert.ok(requestId, 'the error page has a request-id header');
  assert.ok(html.includes(requestId), `the page does not show the request id ${requestId}: ${textOf(html).slice(0, 800)}`);
  return requestId;
}

before(async () => {
  op = await startOp({ clients: CLIENTS, accounts: ACCOUNTS, keys: [k1] });
  graph = graphClient(base, await appToken(base, tenant, adminId, adminSecret));
  appId = await registerPublicClient(graph, 'Compat federation app (oidc-provider)', APP_REDIRECT);
});

after(async () => {
  await op?.close();
});

test('Graph creates an openIdConnectIdentityProvider for the partner OP; the secret is not echoed', async () => {
  const r = await graph('POST', '/v1.0/identity/identityProviders', providerBody());
  assert.equal(r.status, 201, r.text);
  provider = r.body;
  assert.match(provider.id, /^OIDC-[0-9a-f-]{36}$/i, r.text);
  assert.equal(provider.clientSecret, '****', r.text);
  assert.equal(provider['@odata.type'], '#microsoft.graph.openIdConnectIdentityProvider', r.text);
  assert.equal(provider.clientId, 'portico');
  assert.equal(provider.metadataUrl, op.metadataUrl);
  assert.ok(!r.text.includes('s3cret'), `the secret is in the answer: ${r.text}`);

  const one = await graph('GET', `/v1.0/identity/identityProviders/${provider.id}`);
  assert.equal(one.status, 200, one.text);
  assert.equal(one.body.clientSecret, '****', one.text);
});

test('a guest redeems an invitation by signing in at oidc-provider', async (t) => {
  assert.ok(provider, 'the provider was not created');
  const inv = await invite(GUEST);
  guest.id = inv.id;
  const before = op.seen.authorizations.length;
  const { outcome } = await redeem(inv.url, 'olga');
  assert.ok(outcome.stopped, describe(outcome));
  assert.equal(outcome.stopped.href, AFTER);
  t.diagnostic(`redemption: ${outcome.trace.join(' > ')} > ${outcome.stopped.href}`);
  const portico = new URL(base).origin;
  // (The last hop to inviteRedirectUrl may be a page that moves on by itself: not counted.)
  assert.deepEqual(
    outcome.trace.filter((s) => !s.endsWith('|continue')),
    [`${portico}|start`, `${op.issuer}|login`, `${op.issuer}|consent`, `${portico}|consent`],
    outcome.trace.join(' > '),
  );

  // What Portico asked the OP for: the code flow with PKCE S256, state, nonce and a login hint.
  const sent = op.seen.authorizations.slice(before);
  assert.equal(sent.length, 1, JSON.stringify(sent));
  const a = sent[0];
  assert.equal(a.client_id, 'portico');
  assert.equal(a.response_type, 'code');
  assert.equal(a.redirect_uri, callback);
  assert.deepEqual(a.scope.split(' ').sort(), ['email', 'openid', 'profile']);
  assert.equal(a.code_challenge_method, 'S256');
  assert.match(a.code_challenge, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(a.state && a.state.length >= 16, `state ${a.state}`);
  assert.ok(a.nonce && a.nonce.length >= 16, `nonce ${a.nonce}`);
  assert.equal(a.login_hint, GUEST);
  // client_secret_basic at the token endpoint.
  const tok = op.seen.tokenRequests.at(-1);
  assert.equal(tok.authorization, `Basic ${Buffer.from('portico:s3cret').toString('base64')}`);

  const u = await graph('GET', `/v1.0/users/${guest.id}?$select=id,externalUserState,userType,identities,mail`);
  assert.equal(u.status, 200, u.text);
  assert.equal(u.body.externalUserState, 'Accepted', u.text);
  assert.equal(u.body.userType, 'Guest', u.text);
  const fed = u.body.identities.filter((i) => i.signInType === 'federated');
  assert.deepEqual(fed, [{ signInType: 'federated', issuer: op.issuer, issuerAssignedId: 'olga' }], u.text);
});

test('the guest signs in to an application through the OP (idp = the OP, acct = 1)', async () => {
  assert.ok(guest.id, 'the guest did not redeem');
  const { id, trace, nonce } = await appSignIn(new Browser(), GUEST, 'olga');
  assert.ok(trace.some((s) => s.startsWith(op.issuer)), `the OP was not visited: ${trace.join(' > ')}`);
  assert.equal(id.idp, op.issuer, JSON.stringify(id));
  assert.equal(id.acct, 1, JSON.stringify(id));
  assert.equal(id.oid, guest.id, JSON.stringify(id));
  assert.equal(id.tid, tenant, JSON.stringify(id));
  assert.equal(id.aud, appId, JSON.stringify(id));
  assert.equal(id.nonce, nonce, JSON.stringify(id));
  assert.equal(op.seen.idTokenKids.at(-1), 'partner-k1');
});

test('after the OP rolls its signing key over, the guest still signs in (Portico refetches the JWKS)', async () => {
  assert.ok(guest.id, 'the guest did not redeem');
  // The same issuer and listener, a new provider instance signing with k2 (k1 still published).
  await op.swap({ keys: [k2, k1] });
  const jwks = await (await fetch(`${op.issuer}/jwks`)).json();
  assert.deepEqual(
    jwks.keys.map((k) => k.kid),
    ['partner-k2', 'partner-k1'],
  );
  const { id, trace } = await appSignIn(new Browser(), GUEST, 'olga');
  assert.ok(trace.includes(`${op.issuer}|login`), `the OP did not ask for the login again: ${trace.join(' > ')}`);
  assert.equal(op.seen.idTokenKids.at(-1), 'partner-k2', 'the OP signed with the new key');
  assert.equal(id.idp, op.issuer, JSON.stringify(id));
  assert.equal(id.oid, guest.id, JSON.stringify(id));
  assert.equal(id.acct, 1, JSON.stringify(id));
});

test('an address the OP does not say is verified (email_verified false) cannot redeem', async (t) => {
  assert.ok(provider, 'the provider was not created');
  const inv = await invite(UNVERIFIED);
  const { outcome } = await redeem(inv.url, 'uwe');
  const requestId = errorPage(outcome);
  const entry = await signInByRequestId(graph, requestId);
  t.diagnostic(`sign-in log: ${entry.status.errorCode} ${entry.status.failureReason}`);
  assert.match(entry.status.failureReason ?? '', /^email_not_verified/, JSON.stringify(entry));
  assert.ok(entry.status.errorCode > 0, JSON.stringify(entry));
  const u = await graph('GET', `/v1.0/users/${inv.id}?$select=id,externalUserState`);
  assert.equal(u.status, 200, u.text);
  assert.equal(u.body.externalUserState, 'PendingAcceptance', u.text);
});

test('without allowPrivateNetwork a provider on a loopback address is refused (address_refused)', async (t) => {
  // https, so the refusal is the address check (plain http is refused earlier, for its scheme).
  const metadataUrl = `https://127.0.0.1:${op.port}/.well-known/openid-configuration`;
  const body = providerBody({ displayName: 'Partner OP (no private network)', metadataUrl, domains: [REFUSED_DOMAIN] });
  delete body.allowPrivateNetwork;
  const r = await graph('POST', '/v1.0/identity/identityProviders', body);
  assert.equal(r.status, 201, `creation (no discovery at creation expected): ${r.text}`);

  const inv = await invite(`rafael@${REFUSED_DOMAIN}`);
  const { outcome } = await redeem(inv.url, 'olga');
  const requestId = errorPage(outcome);
  const entry = await signInByRequestId(graph, requestId);
  t.diagnostic(`sign-in log: ${entry.status.errorCode} ${entry.status.failureReason}`);
  assert.match(entry.status.failureReason ?? '', /^address_refused/, JSON.stringify(entry));
});

// oidc-provider's default (conformIdTokenClaims: true) follows OIDC Core §5.4: when an access
// token is issued, the claims asked for by scope (email, email_verified) are served at the
// userinfo endpoint and left out of the ID token. An RP that reads only the ID token sees no
// address at all: Portico then asks userinfo with the access token (same subject only).
test(
  'an OP that serves email only at userinfo (oidc-provider default) still lets the guest redeem',
  async (t) => {
    const conform = await startOp({ clients: CLIENTS, accounts: ACCOUNTS, keys: [signingKey('conform-k1')], conformIdTokenClaims: true });
    t.after(() => conform.close());
    const r = await graph(
      'POST',
      '/v1.0/identity/identityProviders',
      providerBody({ displayName: 'Conforming OP', metadataUrl: conform.metadataUrl, domains: [CONFORM_DOMAIN] }),
    );
    assert.equal(r.status, 201, r.text);
    const inv = await invite(`cora@${CONFORM_DOMAIN}`);
    const { outcome } = await redeem(inv.url, 'cora');
    t.diagnostic(`conforming OP: ${describe(outcome)}; userinfo calls: ${conform.seen.userinfo}`);
    if (outcome.page) {
      const entry = await signInByRequestId(graph, outcome.page.headers.get('request-id'));
      t.diagnostic(`sign-in log: ${entry.status.errorCode} ${entry.status.failureReason}`);
    }
    assert.ok(outcome.stopped, describe(outcome));
    assert.equal(outcome.stopped.href, AFTER);
    assert.ok(conform.seen.userinfo >= 1, 'the address came from userinfo');
  },
);
