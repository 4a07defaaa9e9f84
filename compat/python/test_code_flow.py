"""OpenID Connect authorization code flow with PKCE, with authlib as the relying party.

The hosted sign-in pages are driven over plain HTTP with httpx (a cookie jar, no browser); the
ID token is checked with authlib.jose against the tenant's JWKS. compat/run.sh exports, besides
what conftest.py lists:
  PORTICO_USER, PORTICO_USER_PASSWORD       a member user with a known password
  PORTICO_RP_PY_CLIENT_ID/_SECRET           a confidential web client for this suite
  PORTICO_RP_REDIRECT_URI                   its registered redirect URI (never listened on)
"""

import base64
import json
import os
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.jose import errors as authlib_errors
from authlib.oidc.core import CodeIDToken
from joserfc import errors as joserfc_errors

SCOPE = "openid profile email offline_access"
# authlib 1.9's authlib.jose runs on joserfc and raises either module's errors.
INVALID_CLAIM = (authlib_errors.InvalidClaimError, joserfc_errors.InvalidClaimError)
BAD_SIGNATURE = (authlib_errors.BadSignatureError, joserfc_errors.BadSignatureError)


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set: run these tests through compat/run.sh")
    return value


@pytest.fixture(scope="module")
def rp():
    return {
        "client_id": _env("PORTICO_RP_PY_CLIENT_ID"),
        "client_secret": _env("PORTICO_RP_PY_CLIENT_SECRET"),
        "redirect_uri": _env("PORTICO_RP_REDIRECT_URI"),
        "user": _env("PORTICO_USER"),
        "password": _env("PORTICO_USER_PASSWORD"),
    }


# ------------------------------------------------------------------ a tiny browser


class _FormParser(HTMLParser):
    """The first POST form of a page: its action and its hidden inputs."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.hidden = {}
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self._done:
            return
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._in_form = True
            self.action = a.get("action") or ""
        elif tag == "input" and self._in_form and (a.get("type") or "").lower() == "hidden" and a.get("name"):
            self.hidden[a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


def sign_in(browser: httpx.Client, authorization_url: str, rp: dict, kmsi: str = "no"):
    """Follows the authorization URL through the sign-in pages until Portico answers the
    redirect URI. Returns (callback URL, the steps answered)."""
    url = authorization_url
    r = browser.get(url)
    steps = []
    for _ in range(20):
        if r.status_code in (302, 303):
            loc = urljoin(url, r.headers["location"])
            if loc.startswith(rp["redirect_uri"]):
                assert r.status_code == 303, "the answer to the client is a 303 (RFC 9700 §4.11)"
                return loc, steps
            url = loc
            r = browser.get(url)
            continue
        assert r.status_code == 200, f"unexpected {r.status_code} at {url}:\n{r.text[:2000]}"
        form = _FormParser()
        form.feed(r.text)
        assert form.action is not None, f"no form on the page:\n{r.text[:2000]}"
        step = form.hidden.get("step")
        steps.append(step)
        fields = dict(form.hidden)
        if step == "identify":
            fields["login"] = rp["user"]
        elif step == "password":
            fields["password"] = rp["password"]
        elif step == "kmsi":
            fields["stay"] = kmsi
        elif step == "consent":
            fields["decision"] = "accept"
        else:
            pytest.fail(f"unexpected sign-in step {step!r}:\n{r.text[:2000]}")
        url = urljoin(url, form.action)
        r = browser.post(url, data=fields)
    pytest.fail("the sign-in did not finish in 20 hops")


def oauth_client(rp: dict, **kw) -> OAuth2Client:
    return OAuth2Client(
        client_id=rp["client_id"],
        client_secret=rp["client_secret"],
        scope=SCOPE,
        redirect_uri=rp["redirect_uri"],
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
        timeout=10,
        **kw,
    )


def authorize(session: OAuth2Client, discovery: dict, browser: httpx.Client, rp: dict):
    """One authorization round trip; returns what the RP keeps plus the callback URL."""
    verifier = generate_token(64)
    nonce = secrets.token_urlsafe(16)
    url, state = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    q = parse_qs(urlsplit(url).query)
    assert q["code_challenge_method"] == ["S256"]
    assert q["code_challenge"][0] and q["code_challenge"][0] != verifier
    callback, steps = sign_in(browser, url, rp)
    return {"verifier": verifier, "nonce": nonce, "state": state, "callback": callback, "steps": steps}


def decode_id_token(id_token: str, discovery: dict, rp: dict, nonce: str, access_token: str | None = None):
    jwks = httpx.get(discovery["jwks_uri"], timeout=10).json()
    keys = JsonWebKey.import_key_set(jwks)
    jwt = JsonWebToken(discovery["id_token_signing_alg_values_supported"])
    claims = jwt.decode(
        id_token,
        keys,
        claims_cls=CodeIDToken,
        claims_options={
            "iss": {"essential": True, "value": discovery["issuer"]},
            "aud": {"essential": True, "value": rp["client_id"]},
            "nonce": {"essential": True, "value": nonce},
        },
        claims_params={"nonce": nonce, "client_id": rp["client_id"], "access_token": access_token},
    )
    claims.validate(leeway=60)
    return claims


# ------------------------------------------------------------------ the flow


@pytest.fixture(scope="module")
def browser():
    with httpx.Client(follow_redirects=False, timeout=10) as b:
        yield b


@pytest.fixture(scope="module")
def first(discovery, browser, rp):
    """The first sign-in of the user to this client, and its token response."""
    with oauth_client(rp) as session:
        a = authorize(session, discovery, browser, rp)
        token = session.fetch_token(
            discovery["token_endpoint"],
            authorization_response=a["callback"],
            state=a["state"],
            code_verifier=a["verifier"],
        )
    a["token"] = dict(token)
    return a


def test_first_sign_in_walks_the_pages(first, browser, tenant):
    assert first["steps"] == ["identify", "password", "kmsi", "consent"]
    names = {c.name for c in browser.cookies.jar}
    assert "portico_b" in names
    assert f"portico_s_{tenant.replace('-', '')}" in names


def test_callback_carries_code_state_and_iss(first, discovery):
    q = parse_qs(urlsplit(first["callback"]).query)
    assert q["code"][0]
    assert q["state"] == [first["state"]]
    assert q["iss"] == [discovery["issuer"]]
    assert "access_token" not in q and "id_token" not in q


def test_token_response(first):
    token = first["token"]
    assert token["token_type"].lower() == "bearer"
    assert token["access_token"] and token["id_token"] and token["refresh_token"]
    assert int(token["expires_in"]) > 0
    assert set(SCOPE.split()) <= set(token["scope"].split())


def test_id_token_validates_with_authlib_jose(first, discovery, rp, tenant):
    claims = decode_id_token(first["token"]["id_token"], discovery, rp, first["nonce"], first["token"]["access_token"])
    assert claims.header["alg"] in discovery["id_token_signing_alg_values_supported"]
    assert claims.header["kid"]
    assert claims["iss"] == discovery["issuer"]
    assert claims["aud"] == rp["client_id"]
    assert claims["nonce"] == first["nonce"]
    assert claims["sub"]
    assert claims["tid"] == tenant
    assert "pwd" in claims["amr"]
    assert claims["preferred_username"].lower() == rp["user"].lower()
    assert claims["exp"] > claims["iat"]


def test_id_token_checks_fail_when_they_should(first, discovery, rp):
    id_token = first["token"]["id_token"]
    # Another nonce.
    with pytest.raises(INVALID_CLAIM, match="nonce"):
        decode_id_token(id_token, discovery, rp, "not-the-nonce")
    # Another audience.
    with pytest.raises(INVALID_CLAIM, match="aud"):
        decode_id_token(id_token, discovery, dict(rp, client_id="00000000-0000-0000-0000-000000000001"), first["nonce"])
    # A changed payload breaks the signature.
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["preferred_username"] = "mallory@contoso.test"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(BAD_SIGNATURE):
        decode_id_token(f"{header}.{forged}.{signature}", discovery, rp, first["nonce"])


def test_wrong_code_verifier_is_invalid_grant(first, discovery, browser, rp):
    with oauth_client(rp) as session:
        a = authorize(session, discovery, browser, rp)
        # The browser has a session and the consent is recorded: no pages this time.
        assert a["steps"] == []
        with pytest.raises(OAuthError) as e:
            session.fetch_token(
                discovery["token_endpoint"],
                authorization_response=a["callback"],
                state=a["state"],
                code_verifier=generate_token(64),
            )
    assert e.value.error == "invalid_grant"


def test_replayed_code_is_invalid_grant_and_revokes_its_tokens(first, discovery, browser, rp):
    """RFC 6749 §4.1.2 / RFC 9700 §4.1: a code is redeemed once; a second redemption fails
    and what the first one issued is revoked (a fresh authorization, so `first` stays valid)."""
    with oauth_client(rp) as session:
        a = authorize(session, discovery, browser, rp)
        assert a["steps"] == []
        token = dict(
            session.fetch_token(
                discovery["token_endpoint"],
                authorization_response=a["callback"],
                state=a["state"],
                code_verifier=a["verifier"],
            )
        )
        decode_id_token(token["id_token"], discovery, rp, a["nonce"], token["access_token"])
        with pytest.raises(OAuthError) as e:
            session.fetch_token(
                discovery["token_endpoint"],
                authorization_response=a["callback"],
                state=a["state"],
                code_verifier=a["verifier"],
            )
    assert e.value.error == "invalid_grant"
    with oauth_client(rp) as session:
        with pytest.raises(OAuthError) as e:
            session.refresh_token(discovery["token_endpoint"], refresh_token=token["refresh_token"])
    assert e.value.error == "invalid_grant"
    r = httpx.get(discovery["userinfo_endpoint"], headers={"authorization": f"Bearer {token['access_token']}"})
    assert r.status_code == 401, r.text
    # The first sign-in's tokens are not affected.
    r = httpx.get(discovery["userinfo_endpoint"], headers={"authorization": f"Bearer {first['token']['access_token']}"})
    assert r.status_code == 200, r.text


def test_authorization_without_pkce_is_refused(first, discovery, browser, rp):
    with OAuth2Client(client_id=rp["client_id"], scope=SCOPE, redirect_uri=rp["redirect_uri"]) as plain:
        url, state = plain.create_authorization_url(discovery["authorization_endpoint"], nonce="n-1")
    assert "code_challenge" not in url
    r = browser.get(url)
    assert r.status_code == 303, r.text[:1000]
    loc = r.headers["location"]
    assert loc.startswith(rp["redirect_uri"])
    q = parse_qs(urlsplit(loc).query)
    assert q["error"] == ["invalid_request"]
    assert q["state"] == [state]
    assert q["iss"] == [discovery["issuer"]]
    assert "code" not in q


def test_userinfo_with_the_access_token(first, discovery, rp):
    with oauth_client(rp, token=first["token"]) as session:
        r = session.get(discovery["userinfo_endpoint"])
    assert r.status_code == 200, r.text
    info = r.json()
    id_claims = decode_id_token(first["token"]["id_token"], discovery, rp, first["nonce"])
    assert info["sub"] == id_claims["sub"]
    assert info["preferred_username"].lower() == rp["user"].lower()
    assert info.get("name")
    # Without a token: 401 with a Bearer challenge (RFC 6750 §3).
    r = httpx.get(discovery["userinfo_endpoint"], timeout=10)
    assert r.status_code == 401
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_refresh_rotates_and_the_old_token_is_refused(first, discovery, rp):
    old = first["token"]["refresh_token"]
    with oauth_client(rp, token=first["token"]) as session:
        new = session.refresh_token(discovery["token_endpoint"], refresh_token=old)
        assert new["access_token"]
        assert new["refresh_token"] and new["refresh_token"] != old
        if new.get("id_token"):
            # A refreshed ID token has no nonce requirement beyond echoing (OIDC Core §12.2).
            jwks = JsonWebKey.import_key_set(httpx.get(discovery["jwks_uri"], timeout=10).json())
            c = JsonWebToken(discovery["id_token_signing_alg_values_supported"]).decode(new["id_token"], jwks)
            c.validate(leeway=60)
            assert c["aud"] == rp["client_id"]
            assert c["iss"] == discovery["issuer"]
        r = session.get(discovery["userinfo_endpoint"])
        assert r.status_code == 200, r.text
    with oauth_client(rp) as session:
        with pytest.raises(OAuthError) as e:
            session.refresh_token(discovery["token_endpoint"], refresh_token=old)
    assert e.value.error == "invalid_grant"
