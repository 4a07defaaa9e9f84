// openid-client (v6) as an OpenID Connect relying party against a running Portico: the
// authorization code flow with PKCE through the hosted sign-in pages (driven over plain HTTP,
// no browser), then userinfo, refresh token rotation and RP-initiated logout.
//
// Run through compat/run.sh, which exports PORTICO_BASE, PORTICO_TENANT, PORTICO_USER,
// PORTICO_USER_PASSWORD, PORTICO_RP_CLIENT_ID, PORTICO_RP_CLIENT_SECRET and
// PORTICO_RP_REDIRECT_URI (a registered web redirect URI nobody listens on: the 303 that would
// go there is caught instead), and PORTICO_RP_PUBLIC_CLIENT_ID / PORTICO_RP_PUBLIC_REDIRECT_URI
// for a public client (no secret).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through compat/run.sh`);
  return v;
}

const base = env('PORTICO_BASE').replace(/\/$/, '');
const tenant = env('PORTICO_TENANT');
const upn = env('PORTICO_USER');
const password = env('PORTICO_USER_PASSWORD');
const clientId = env('PORTICO_RP_CLIENT_ID');
const clientSecret = env('PORTICO_RP_CLIENT_SECRET');
const redirectUri = env('PORTICO_RP_REDIRECT_URI');
const issuer = `${base}/${tenant}/v2.0`;
const SCOPE = 'openid profile email offline_access';
// The issuer is plain http on loopback.
const insecure = { execute: [client.allowInsecureRequests] };

// ------------------------------------------------------------------ a tiny browser

/** Cookies by name, as a browser would keep them for the one origin. */
class Jar {
  constructor() {
    this.cookies = new Map();
  }
  take(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const maxAge = attrs.map((a) => a.trim().toLowerCase()).find((a) => a.startsWith('max-age='));
      if (value === '' || (maxAge && Number(maxAge.slice(8)) <= 0)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header() {
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  }
  names() {
    return [...this.cookies.keys()];
  }
}

async function get(jar, url) {
  const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
  jar.take(res);
  return res;
}

async function post(jar, url, fields) {
  const res = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  jar.take(res);
  return res;
}

const unescape = (s) =>
  s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The first POST form of a page: its action and hidden inputs. */
function parseForm(html, pageUrl) {
  const form = html.match(/<form\b[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i);
  assert.ok(form, `no form on the page:\n${html.slice(0, 2000)}`);
  const action = form[0].match(/action="([^"]*)"/i);
  const hidden = {};
  for (const m of form[1].matchAll(/<input\b[^>]*>/gi)) {
    const tag = m[0];
    if (!/type="hidden"/i.test(tag)) continue;
    const name = tag.match(/name="([^"]*)"/i);
    const value = tag.match(/value="([^"]*)"/i);
    if (name) hidden[unescape(name[1])] = value ? unescape(value[1]) : '';
  }
  return { action: new URL(unescape(action ? action[1] : ''), pageUrl), hidden };
}

/**
 * Follows an authorization URL through the sign-in pages until Portico answers the redirect
 * URI; returns that callback URL and the steps (pages) that were answered.
 */
async function signIn(jar, authorizationUrl, { kmsi = 'no', callbackUri = redirectUri } = {}) {
  let res = await get(jar, authorizationUrl);
  let url = new URL(authorizationUrl);
  const steps = [];
  for (let hop = 0; hop < 20; hop++) {
    if (res.status === 302 || res.status === 303) {
      const loc = new URL(res.headers.get('location'), url);
      if (loc.href.startsWith(callbackUri)) {
        assert.equal(res.status, 303, 'the answer to the client is a 303 (RFC 9700 §4.11)');
        return { callback: loc, steps };
      }
      url = loc;
      res = await get(jar, url);
      continue;
    }
    const html = await res.text();
    assert.equal(res.status, 200, `unexpected ${res.status} at ${url}:\n${html.slice(0, 2000)}`);
    const { action, hidden } = parseForm(html, url);
    const step = hidden.step;
    steps.push(step);
    const fields = { ...hidden };
    if (step === 'identify') fields.login = upn;
    else if (step === 'password') fields.password = password;
    else if (step === 'kmsi') fields.stay = kmsi;
    else if (step === 'consent') fields.decision = 'accept';
    else assert.fail(`unexpected sign-in step '${step}':\n${html.slice(0, 2000)}`);
    url = action;
    res = await post(jar, action, fields);
  }
  assert.fail('the sign-in did not finish in 20 hops');
}

// ------------------------------------------------------------------ the flow

let config;
const jar = new Jar();
let first; // { tokens, claims, state, nonce, callback, steps }

async function authorize(extra = {}, cfg = config) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(cfg, {
    redirect_uri: redirectUri,
    scope: SCOPE,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, codeVerifier, state, nonce };
}

before(async () => {
  config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, insecure);
  const req = await authorize();
  const { callback, steps } = await signIn(jar, req.url);
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: req.codeVerifier,
    expectedState: req.state,
    expectedNonce: req.nonce,
    idTokenExpected: true,
  });
  first = { ...req, tokens, claims: tokens.claims(), callback, steps };
});

test('discovery advertises the code flow with S256 and RFC 9207 iss', () => {
  const md = config.serverMetadata();
  assert.equal(md.issuer, issuer);
  assert.ok(md.response_types_supported.includes('code'));
  assert.deepEqual(md.code_challenge_methods_supported, ['S256']);
  assert.equal(md.authorization_response_iss_parameter_supported, true);
  assert.ok(md.userinfo_endpoint && md.end_session_endpoint);
});

test('the first sign-in goes through identify, password, stay signed in and consent', () => {
  assert.deepEqual(first.steps, ['identify', 'password', 'kmsi', 'consent']);
  assert.ok(jar.names().includes('portico_b'), `cookies: ${jar.names()}`);
  assert.ok(
    jar.names().includes(`portico_s_${tenant.replaceAll('-', '')}`),
    `no session cookie among ${jar.names()}`,
  );
});

test('the callback carries code, state and iss; no tokens in the URL', () => {
  const p = first.callback.searchParams;
  assert.ok(p.get('code'));
  assert.equal(p.get('state'), first.state);
  assert.equal(p.get('iss'), issuer);
  assert.equal(p.get('access_token'), null);
  assert.equal(p.get('id_token'), null);
});

test('authorizationCodeGrant gives an ID token openid-client validates', () => {
  const { tokens, claims } = first;
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(tokens.access_token);
  assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
  assert.ok(tokens.expiresIn() > 0);
  assert.equal(claims.iss, issuer);
  assert.equal(claims.aud, clientId);
  assert.equal(claims.nonce, first.nonce);
  assert.ok(claims.sub);
  assert.equal(claims.tid, tenant);
  assert.ok(Array.isArray(claims.amr) && claims.amr.includes('pwd'), `amr ${JSON.stringify(claims.amr)}`);
  assert.equal(claims.preferred_username.toLowerCase(), upn.toLowerCase());
  assert.ok(claims.auth_time <= claims.iat + 1);
  for (const s of ['openid', 'profile', 'email', 'offline_access']) {
    assert.ok(tokens.scope.split(' ').includes(s), `scope '${tokens.scope}' lacks ${s}`);
  }
});

test('a wrong PKCE verifier is refused with invalid_grant', async () => {
  // The browser has a session now: the second authorization goes straight back to the client.
  const req = await authorize();
  const { callback, steps } = await signIn(jar, req.url);
  assert.deepEqual(steps, [], 'an existing session and consent need no pages');
  await assert.rejects(
    client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: client.randomPKCECodeVerifier(),
      expectedState: req.state,
      expectedNonce: req.nonce,
    }),
    (err) => {
      assert.ok(err instanceof client.ResponseBodyError, `unexpected ${err?.name}: ${err?.message}`);
      assert.equal(err.error, 'invalid_grant');
      return true;
    },
  );
});

test('a mismatched iss in the callback is rejected by openid-client (RFC 9207)', async () => {
  const req = await authorize();
  const { callback } = await signIn(jar, req.url);
  const forged = new URL(callback);
  forged.searchParams.set('iss', `${base}/00000000-0000-0000-0000-000000000000/v2.0`);
  await assert.rejects(
    client.authorizationCodeGrant(config, forged, {
      pkceCodeVerifier: req.codeVerifier,
      expectedState: req.state,
      expectedNonce: req.nonce,
    }),
    (err) => {
      // openid-client wraps oauth4webapi's check: 'unexpected "iss" (issuer) response parameter value'.
      assert.equal(err.code, 'OAUTH_INVALID_RESPONSE', `${err.name}: ${err.message}`);
      assert.match(err.cause?.message ?? '', /"iss" \(issuer\) response parameter/);
      return true;
    },
  );
});

test('a replayed code is invalid_grant and revokes what it issued (RFC 6749 §4.1.2)', async () => {
  // A fresh authorization, so the first sign-in's tokens stay valid for the tests below.
  const req = await authorize();
  const { callback, steps } = await signIn(jar, req.url);
  assert.deepEqual(steps, []);
  const checks = { pkceCodeVerifier: req.codeVerifier, expectedState: req.state, expectedNonce: req.nonce };
  const tokens = await client.authorizationCodeGrant(config, callback, checks);
  assert.equal(tokens.claims().nonce, req.nonce);
  const invalidGrant = (err) => {
    assert.ok(err instanceof client.ResponseBodyError, `unexpected ${err?.name}: ${err?.message}`);
    assert.equal(err.error, 'invalid_grant');
    return true;
  };
  await assert.rejects(client.authorizationCodeGrant(config, callback, checks), invalidGrant);
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), invalidGrant);
  const res = await fetch(config.serverMetadata().userinfo_endpoint, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  assert.equal(res.status, 401);
});

test('fetchUserInfo returns the same subject and the profile', async () => {
  const info = await client.fetchUserInfo(config, first.tokens.access_token, first.claims.sub);
  assert.equal(info.sub, first.claims.sub);
  assert.equal(info.preferred_username?.toLowerCase(), upn.toLowerCase());
  assert.ok(info.name);
});

test('refreshTokenGrant rotates the refresh token; the old one is then invalid_grant', async () => {
  const old = first.tokens.refresh_token;
  const refreshed = await client.refreshTokenGrant(config, old);
  assert.ok(refreshed.access_token);
  assert.ok(refreshed.refresh_token);
  assert.notEqual(refreshed.refresh_token, old);
  if (refreshed.id_token) {
    const c = refreshed.claims();
    assert.equal(c.sub, first.claims.sub);
    assert.equal(c.aud, clientId);
  }
  // The new access token works at userinfo.
  const info = await client.fetchUserInfo(config, refreshed.access_token, first.claims.sub);
  assert.equal(info.sub, first.claims.sub);

  await assert.rejects(client.refreshTokenGrant(config, old), (err) => {
    assert.ok(err instanceof client.ResponseBodyError, `unexpected ${err?.name}: ${err?.message}`);
    assert.equal(err.error, 'invalid_grant');
    return true;
  });
  first.latest = refreshed;
});

test('buildEndSessionUrl with id_token_hint signs out and returns to the client with state', async () => {
  const state = client.randomState();
  const url = client.buildEndSessionUrl(config, {
    id_token_hint: first.tokens.id_token,
    post_logout_redirect_uri: redirectUri,
    state,
  });
  const sessionCookie = `portico_s_${tenant.replaceAll('-', '')}`;
  assert.ok(jar.names().includes(sessionCookie));
  const res = await get(jar, url);
  assert.equal(res.status, 303, await res.clone().text());
  const back = new URL(res.headers.get('location'));
  assert.equal(`${back.origin}${back.pathname}`, redirectUri);
  assert.equal(back.searchParams.get('state'), state);
  assert.ok(!jar.names().includes(sessionCookie), 'the session cookie is deleted');

  // Signed out: a new authorization asks for the account again.
  const req = await authorize();
  const authz = await get(jar, req.url);
  assert.equal(authz.status, 303);
  assert.match(authz.headers.get('location'), /\/login\?flow=/);
});

test('a public client (no secret, PKCE only) completes the flow and refreshes', async (t) => {
  const publicId = process.env.PORTICO_RP_PUBLIC_CLIENT_ID;
  const publicRedirect = process.env.PORTICO_RP_PUBLIC_REDIRECT_URI;
  if (!publicId || !publicRedirect) return t.skip('PORTICO_RP_PUBLIC_CLIENT_ID not set');
  const pub = await client.discovery(new URL(issuer), publicId, undefined, client.None(), insecure);
  const other = new Jar(); // another browser: no session yet
  const req = await authorize({ redirect_uri: publicRedirect }, pub);
  const { callback, steps } = await signIn(other, req.url, { callbackUri: publicRedirect });
  assert.deepEqual(steps, ['identify', 'password', 'kmsi', 'consent']);
  const tokens = await client.authorizationCodeGrant(pub, callback, {
    pkceCodeVerifier: req.codeVerifier,
    expectedState: req.state,
    expectedNonce: req.nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  assert.equal(claims.aud, publicId);
  assert.ok(claims.amr.includes('pwd'));
  assert.ok(tokens.refresh_token);
  const refreshed = await client.refreshTokenGrant(pub, tokens.refresh_token);
  assert.ok(refreshed.access_token && refreshed.refresh_token);
  const info = await client.fetchUserInfo(pub, refreshed.access_token, claims.sub);
  assert.equal(info.sub, claims.sub);
  // A public client may not present a secret (it has none to keep).
  const withSecret = await client.discovery(new URL(issuer), publicId, 'made-up', undefined, insecure);
  await assert.rejects(client.refreshTokenGrant(withSecret, refreshed.refresh_token), (err) => {
    assert.ok(err instanceof client.ResponseBodyError, `unexpected ${err?.name}: ${err?.message}`);
    assert.equal(err.error, 'invalid_client');
    return true;
  });
});
