// Shared by the federation interop tests (federation_oidc.test.mjs, federation_portico.test.mjs):
// a tiny browser over fetch (cookies kept per origin, redirects followed by hand, a bounded
// number of hops), a walker that answers the forms of Portico's hosted pages and of
// oidc-provider's development interactions, and Graph helpers. Not a test file itself.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through compat/run.sh`);
  return v;
}

export const b64url = (buf) => Buffer.from(buf).toString('base64url');
export const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
export const headerOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'));

export function pkce() {
  const verifier = b64url(randomBytes(32));
  return { verifier, challenge: b64url(createHash('sha256').update(verifier).digest()) };
}

// ------------------------------------------------------------------ a tiny browser

/** Cookies by name for one origin (path and expiry attributes other than deletion ignored). */
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
      const lower = attrs.map((a) => a.trim().toLowerCase());
      const maxAge = lower.find((a) => a.startsWith('max-age='));
      const expires = lower.find((a) => a.startsWith('expires='));
      const past = expires && Date.parse(expires.slice(8)) < Date.now();
      if (value === '' || (maxAge && Number(maxAge.slice(8)) <= 0) || past) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header() {
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  }
}

/**
 * A browser: one cookie jar per origin (scheme, host and port). Real browsers share cookies
 * between ports of one host; the deployments here differ only by port, so per-origin jars stand
 * in for separate host names.
 */
export class Browser {
  constructor() {
    this.jars = new Map();
  }
  jar(url) {
    const origin = new URL(url).origin;
    if (!this.jars.has(origin)) this.jars.set(origin, new Jar());
    return this.jars.get(origin);
  }
  cookieNames(url) {
    return [...this.jar(url).cookies.keys()];
  }
  async get(url) {
    const jar = this.jar(url);
    const res = await fetch(url, {
      redirect: 'manual',
      headers: { cookie: jar.header(), 'accept-language': 'en-US', accept: 'text/html' },
      signal: AbortSignal.timeout(20_000),
    });
    jar.take(res);
    return res;
  }
  async post(url, fields) {
    const jar = this.jar(url);
    const res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        cookie: jar.header(),
        'content-type': 'application/x-www-form-urlencoded',
        'accept-language': 'en-US',
        accept: 'text/html',
        // As a browser posting a form of this origin.
        origin: new URL(url).origin,
      },
      body: new URLSearchParams(fields).toString(),
      signal: AbortSignal.timeout(20_000),
    });
    jar.take(res);
    return res;
  }
}

export const unescapeHtml = (s) =>
  s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The first POST form of a page: its action, its hidden inputs and the names of the others. */
export function parseForm(html, pageUrl) {
  const form = html.match(/<form\b[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i);
  if (!form) return null;
  const action = form[0].match(/action="([^"]*)"/i);
  const hidden = {};
  const inputs = [];
  for (const m of form[1].matchAll(/<input\b[^>]*>/gi)) {
    const tag = m[0];
    const name = tag.match(/name="([^"]*)"/i);
    if (!name) continue;
    const value = tag.match(/value="([^"]*)"/i);
    if (/type="hidden"/i.test(tag)) hidden[unescapeHtml(name[1])] = value ? unescapeHtml(value[1]) : '';
    else inputs.push(unescapeHtml(name[1]));
  }
  return { action: new URL(unescapeHtml(action ? action[1] : ''), pageUrl), hidden, inputs };
}

/** The target of a `<meta http-equiv="refresh" content="0;url=...">`, if the page has one. */
export function metaRefresh(html, pageUrl) {
  const m = html.match(/<meta\b[^>]*http-equiv="refresh"[^>]*content="\d+\s*;\s*url=([^"]*)"/i);
  return m ? new URL(unescapeHtml(m[1]), pageUrl) : null;
}

/** The visible text of a page (for failure messages and reports). */
export const textOf = (html) =>
  unescapeHtml(
    html
      .replace(/<style[\s\S]*?<\/style>/gi, ' ')
      .replace(/<script[\s\S]*?<\/script>/gi, ' ')
      .replace(/<[^>]+>/g, ' '),
  )
    .replace(/\s+/g, ' ')
    .trim();

/**
 * Walks from `start` (a URL to GET, or a Response already fetched at `startUrl`) through
 * redirects, meta refreshes and forms until `stop(url)` says a URL is the destination (it is
 * not fetched) or a page is reached that `answer` does not answer. `answer(page)` gets
 * `{ url, html, form }` and returns the fields to post (merged over the form's hidden inputs),
 * or null to stop there. Returns `{ stopped: URL }` or `{ page: { status, url, html, headers } }`,
 * with `trace`: the pages answered, as `origin|label`.
 */
export async function walk(browser, start, { answer, stop, maxHops = 30, startUrl } = {}) {
  let url = new URL(startUrl ?? start);
  let res = typeof start === 'string' || start instanceof URL ? await browser.get(url) : start;
  const trace = [];
  for (let hop = 0; hop < maxHops; hop++) {
    if ([301, 302, 303, 307].includes(res.status)) {
      const loc = new URL(res.headers.get('location'), url);
      if (stop(loc)) return { stopped: loc, trace, status: res.status };
      url = loc;
      res = await browser.get(url);
      continue;
    }
    const html = await res.text();
    const page = { status: res.status, url, html, headers: res.headers };
    if (res.status !== 200) return { page, trace };
    const form = parseForm(html, url);
    const next = form ? null : metaRefresh(html, url);
    if (next) {
      trace.push(`${url.origin}|continue`);
      if (stop(next)) return { stopped: next, trace, status: 200, via: 'refresh' };
      url = next;
      res = await browser.get(url);
      continue;
    }
    if (!form) return { page, trace };
    const fields = answer({ url, html, form });
    if (!fields) return { page, trace };
    trace.push(`${url.origin}|${form.hidden.step ?? form.hidden.prompt ?? 'form'}`);
    url = form.action;
    res = await browser.post(url, { ...form.hidden, ...fields });
  }
  assert.fail(`the walk from ${startUrl ?? start} did not finish in ${maxHops} hops (at ${url})`);
}

/**
 * Answers Portico's hosted pages (by their hidden `step`) for someone who signs in as `login`
 * with `password` (when asked), and oidc-provider's development interactions (by their hidden
 * `prompt`) as the account `opAccount`.
 */
export function answerer({ login, password, opAccount } = {}) {
  return ({ form, html, url }) => {
    const { step, prompt } = form.hidden;
    if (prompt === 'login') return opAccount ? { login: opAccount, password: 'any-password' } : null;
    if (prompt === 'consent') return {};
    switch (step) {
      case 'start':
        return {};
      case 'identify':
        return login ? { login } : null;
      case 'password':
        return password ? { password } : null;
      case 'kmsi':
        return { stay: 'no' };
      case 'consent':
        return { decision: 'accept' };
      default:
        throw new Error(`no answer for step '${step}' prompt '${prompt}' at ${url}:\n${textOf(html).slice(0, 1500)}`);
    }
  };
}

/** A failure message that says where a walk ended and what the page said. */
export function describe(outcome) {
  if (outcome.stopped) return `stopped at ${outcome.stopped} after ${outcome.trace.join(' > ')}`;
  const p = outcome.page;
  return `HTTP ${p.status} at ${p.url} after [${outcome.trace.join(' > ')}] (request-id ${p.headers.get('request-id')}): ${textOf(p.html).slice(0, 1500)}`;
}

// ------------------------------------------------------------------ Graph and tokens

export async function appToken(base, tenant, clientId, clientSecret) {
  const res = await fetch(`${base}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      scope: 'https://graph.microsoft.com/.default',
    }).toString(),
    signal: AbortSignal.timeout(20_000),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.access_token;
}

export function graphClient(base, token) {
  return async (method, path, body) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: res.status, body: json, text };
  };
}

/** Registers a public client (PKCE, no secret) with a service principal; returns its appId. */
export async function registerPublicClient(graph, displayName, redirectUri) {
  const app = await graph('POST', '/v1.0/applications', { displayName, publicClient: { redirectUris: [redirectUri] } });
  assert.equal(app.status, 201, app.text);
  const sp = await graph('POST', '/v1.0/servicePrincipals', { appId: app.body.appId });
  assert.equal(sp.status, 201, sp.text);
  return app.body.appId;
}

/** An authorization request (code + PKCE) of a public client at a Portico tenant. */
export function authorizeRequest(base, tenant, clientId, redirectUri, extra = {}) {
  const { verifier, challenge } = pkce();
  const state = b64url(randomBytes(12));
  const nonce = b64url(randomBytes(12));
  const url = new URL(`${base}/${tenant}/oauth2/v2.0/authorize`);
  for (const [k, v] of Object.entries({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  })) {
    url.searchParams.set(k, v);
  }
  return { url, verifier, state, nonce };
}

/** Redeems a code at a Portico tenant's token endpoint (public client, or with a secret). */
export async function redeemCode(base, tenant, { clientId, clientSecret, code, redirectUri, verifier }) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const form = { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier };
  if (clientSecret) {
    const enc = (s) => encodeURIComponent(s);
    headers.authorization = `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
  } else {
    form.client_id = clientId;
  }
  const res = await fetch(`${base}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers,
    body: new URLSearchParams(form).toString(),
    signal: AbortSignal.timeout(20_000),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

/** The sign-in log entry written while serving `requestId` (waits up to 5 s). */
export async function signInByRequestId(graph, requestId) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const r = await graph('GET', '/v1.0/auditLogs/signIns?$top=100');
    assert.equal(r.status, 200, r.text);
    const hit = r.body.value.find((s) => s.correlationId === requestId);
    if (hit) return hit;
    assert.ok(
      Date.now() < deadline,
      `no sign-in log entry with correlationId ${requestId}; newest: ${JSON.stringify(r.body.value.slice(0, 3))}`,
    );
    await new Promise((r) => setTimeout(r, 100));
  }
}
