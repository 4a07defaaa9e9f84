// The whole B2B guest walk in a real browser (Debian's headless Chromium driven by
// playwright-core, which never downloads a browser): an administrator registers a single-page
// app and invites walker@nowhere.test through Graph with the app's authorize URL as
// inviteRedirectUrl; the invitation mail (read from the outbox) carries the redeem link; the
// browser opens it, continues, types the one-time passcode of the second mail, accepts the
// invitation (and the app's consent when asked) and lands on the app's redirect URI with a
// code, which the app redeems for an ID token of a guest (acct=1, idp "mail").
//
// Run through compat/run.sh, which exports PORTICO_BASE, PORTICO_TENANT and
// PORTICO_WALK_CLIENT_ID / PORTICO_WALK_CLIENT_SECRET (a client with Application.ReadWrite.All
// and User.ReadWrite.All: registers the app, invites, reads the outbox). CHROMIUM_PATH
// overrides /usr/bin/chromium. A screenshot of the consent page goes to compat/out/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through compat/run.sh`);
  return v;
}

const base = env('PORTICO_BASE').replace(/\/$/, '');
const tenant = env('PORTICO_TENANT');
const adminId = env('PORTICO_WALK_CLIENT_ID');
const adminSecret = env('PORTICO_WALK_CLIENT_SECRET');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const GUEST = 'walker@nowhere.test';
const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'out');

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits for `selector` on `page`; on a timeout, says where the browser is and what it shows. */
async function expectSelector(page, selector) {
  try {
    return await page.waitForSelector(selector);
  } catch (e) {
    const body = await page.content().catch(() => '(no content)');
    throw new Error(`${selector} did not appear at ${page.url()}: ${e.message}\n${body.slice(0, 3000)}`);
  }
}

async function token() {
  const res = await fetch(`${base}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: adminId,
      client_secret: adminSecret,
      scope: 'https://graph.microsoft.com/.default',
    }).toString(),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.access_token;
}

async function graph(tok, method, urlPath, body) {
  const res = await fetch(`${base}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${tok}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, text };
}

/** The newest outbox mail to `to` with `purpose` that `accept` takes (waits up to 20 s). */
async function mailTo(tok, to, purpose, accept = () => true) {
  const deadline = Date.now() + 20_000;
  let appConsent = false;
  for (;;) {
    const r = await graph(tok, 'GET', '/beta/portico/mailOutbox?$top=50');
    assert.equal(r.status, 200, r.text);
    const m = r.body.value.find((m) => m.to === to && m.purpose === purpose && accept(m));
    if (m) return m;
    assert.ok(Date.now() < deadline, `no ${purpose} mail to ${to} in the outbox: ${r.text.slice(0, 2000)}`);
    await sleep(100);
  }
}

/** A loopback HTTP server standing in for the application: answers its redirect URI. */
async function appServer() {
  const hits = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>The app</title><h1 id="app">Signed in to the app</h1>');
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { server, hits, port: server.address().port };
}

test('a guest walks from the invitation mail through a one-time passcode and consent into the app', async (t) => {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI) assert.fail(`${CHROMIUM} is missing: CI must run the browser walk (apt-get install chromium)`);
    t.skip(`${CHROMIUM} is missing (apt-get install chromium; scripts/test-all installs it)`);
    return;
  }
  const tok = await token();
  const app = await appServer();
  t.after(() => new Promise((resolve) => app.server.close(resolve)));
  const redirectUri = `http://127.0.0.1:${app.port}/cb`;

  // The application: a single-page app (no secret; PKCE) with a service principal.
  const reg = await graph(tok, 'POST', '/v1.0/applications', {
    displayName: 'Compat guest walk (Chromium)',
    spa: { redirectUris: [redirectUri] },
  });
  assert.equal(reg.status, 201, reg.text);
  const clientId = reg.body.appId;
  const sp = await graph(tok, 'POST', '/v1.0/servicePrincipals', { appId: clientId });
  assert.equal(sp.status, 201, sp.text);

  // Invite, with the app's authorize URL as where the guest lands after redemption.
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(12));
  const authorize = new URL(`${base}/${tenant}/oauth2/v2.0/authorize`);
  for (const [k, v] of Object.entries({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid profile',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })) {
    authorize.searchParams.set(k, v);
  }
  const inv = await graph(tok, 'POST', '/v1.0/invitations', {
    invitedUserEmailAddress: GUEST,
    inviteRedirectUrl: authorize.href,
    sendInvitationMessage: true,
  });
  assert.equal(inv.status, 201, inv.text);
  const guestId = inv.body.invitedUser.id;

  // The invitation mail carries the redeem link (the same one the API answered).
  const invitationMail = await mailTo(tok, GUEST, 'invitation');
  const link = invitationMail.bodyText.match(/https?:\/\/\S+\/redeem\?ticket=[^\s<>"]+/);
  assert.ok(link, `no redeem link in the mail:\n${invitationMail.bodyText}`);
  assert.equal(link[0], inv.body.inviteRedeemUrl);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-proxy-server',
    ],
  });
  t.after(() => browser.close());
  const context = await browser.newContext({ locale: 'en-US' });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);

  // Start page: names the inviting organisation; Continue sends the one-time passcode.
  let res = await page.goto(link[0]);
  assert.equal(res.status(), 200);
  assert.match(await page.content(), /Contoso Compat/);
  await page.click('#continue');
  await expectSelector(page, 'input[name="code"]');

  // The passcode mail: 8 digits, to the invited address.
  const otpMail = await mailTo(tok, GUEST, 'guest_otp');
  const code = otpMail.bodyText.match(/\b(\d{8})\b/);
  assert.ok(code, `no 8-digit code in:\n${otpMail.bodyText}`);
  await page.fill('input[name="code"]', code[1]);
  await page.click('#verify');

  // Consent to the invitation (a screenshot for whoever debugs this).
  await expectSelector(page, '#accept');
  mkdirSync(OUT, { recursive: true });
  writeFileSync(path.join(OUT, '.gitignore'), '*\n');
  await page.screenshot({ path: path.join(OUT, 'guest-walk-consent.png'), fullPage: true });
  assert.match(await page.content(), /Contoso Compat/);
  await page.click('#accept');

  // Redemption answers with the inviteRedirectUrl (the authorize URL); the app may ask for
  // consent to its scopes before the browser reaches the redirect URI.
  const deadline = Date.now() + 20_000;
  let appConsent = false;
  for (;;) {
    const url = page.url();
    if (url.startsWith(redirectUri)) break;
    // The end of redemption is a page that moves on by itself (meta refresh), so the page may
    // be navigating while it is inspected: look again shortly.
    let consent = null;
    try {
      consent = await page.$('button[name="decision"][value="accept"]');
    } catch {
      await sleep(100);
      continue;
    }
    if (consent && !appConsent && !url.includes('/redeem')) {
      appConsent = true;
      await page.waitForLoadState('load');
      await page.click('button[name="decision"][value="accept"]');
      await page.waitForLoadState('load').catch(() => {});
      continue;
    }
    assert.ok(Date.now() < deadline, `the browser did not reach ${redirectUri}; it is at ${url}:\n${(await page.content()).slice(0, 3000)}`);
    await sleep(100);
  }
  await expectSelector(page, '#app');
  const landed = new URL(page.url());
  assert.equal(`${landed.origin}${landed.pathname}`, redirectUri);
  assert.equal(landed.searchParams.get('state'), state);
  const authCode = landed.searchParams.get('code');
  assert.ok(authCode, `no code at ${landed.href}`);
  assert.ok(app.hits.some((h) => h.startsWith('/cb?')), `the app saw ${app.hits}`);

  // The app redeems the code (PKCE, no secret): an ID token of the guest in the tenant.
  const tr = await fetch(`${base}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: `http://127.0.0.1:${app.port}` },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: clientId,
      code: authCode,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }).toString(),
  });
  const tokens = await tr.json();
  assert.equal(tr.status, 200, JSON.stringify(tokens));
  const id = claims(tokens.id_token);
  assert.equal(id.acct, 1, JSON.stringify(id));
  assert.equal(id.idp, 'mail', JSON.stringify(id));
  assert.equal(id.tid, tenant, JSON.stringify(id));
  assert.equal(id.oid, guestId, JSON.stringify(id));
  assert.equal(id.aud, clientId, JSON.stringify(id));

  // The guest is now Accepted.
  const g = await graph(tok, 'GET', `/v1.0/users/${guestId}?$select=id,externalUserState,userType`);
  assert.equal(g.status, 200, g.text);
  assert.equal(g.body.externalUserState, 'Accepted');
  assert.equal(g.body.userType, 'Guest');
});
