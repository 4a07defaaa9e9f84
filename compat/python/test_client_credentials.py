"""OAuth 2.0 client credentials with authlib, tokens verified independently with PyJWT."""

import base64
import json

import httpx
import jwt
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.integrations.base_client.errors import OAuthError

from conftest import GRAPH_AUDIENCE, GRAPH_SCOPE

GRANTED = {"User.ReadWrite.All", "Group.ReadWrite.All", "AuditLog.Read.All"}


def fetch(discovery, client_id, client_secret, method):
    with OAuth2Client(
        client_id=client_id,
        client_secret=client_secret,
        token_endpoint_auth_method=method,
        scope=GRAPH_SCOPE,
        timeout=10,
    ) as client:
        return client.fetch_token(discovery["token_endpoint"], grant_type="client_credentials")


def verify(token, discovery):
    jwks = jwt.PyJWKClient(discovery["jwks_uri"], cache_keys=False)
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=discovery["id_token_signing_alg_values_supported"],
        audience=GRAPH_AUDIENCE,
        issuer=discovery["issuer"],
        options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]},
    )


def test_discovery_document(discovery, base, tenant):
    assert discovery["issuer"] == f"{base}/{tenant}/v2.0"
    assert discovery["token_endpoint"] == f"{base}/{tenant}/oauth2/v2.0/token"
    assert discovery["jwks_uri"] == f"{base}/{tenant}/discovery/v2.0/keys"
    methods = discovery["token_endpoint_auth_methods_supported"]
    assert "client_secret_post" in methods and "client_secret_basic" in methods


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_client_credentials_token_verifies(method, discovery, client_id, client_secret, tenant):
    token = fetch(discovery, client_id, client_secret, method)
    assert token["token_type"].lower() == "bearer"
    assert int(token["expires_in"]) > 0
    claims = verify(token["access_token"], discovery)
    assert claims["aud"] == GRAPH_AUDIENCE
    assert claims["iss"] == discovery["issuer"]
    assert claims["tid"] == tenant
    assert claims["appid"] == client_id
    assert set(claims["roles"]) >= GRANTED
    assert claims["exp"] > claims["iat"]
    header = jwt.get_unverified_header(token["access_token"])
    assert header["alg"] == "RS256"
    assert header["kid"]


def test_basic_auth_header_is_what_authlib_sends(discovery, client_id, client_secret):
    """client_secret_basic sends credentials only in the Authorization header."""
    seen = {}

    def hook(request):
        seen["auth"] = request.headers.get("authorization", "")
        seen["body"] = request.content.decode()

    with OAuth2Client(
        client_id=client_id,
        client_secret=client_secret,
        token_endpoint_auth_method="client_secret_basic",
        scope=GRAPH_SCOPE,
        event_hooks={"request": [hook]},
        timeout=10,
    ) as client:
        client.fetch_token(discovery["token_endpoint"], grant_type="client_credentials")
    assert seen["auth"].startswith("Basic ")
    assert "client_secret" not in seen["body"]


def test_tampered_token_fails_verification(discovery, client_id, client_secret):
    token = fetch(discovery, client_id, client_secret, "client_secret_post")["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = sorted(set(claims["roles"]) | {"Directory.ReadWrite.All"})
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        verify(f"{header}.{forged}.{signature}", discovery)
    # A flipped signature byte fails too.
    sig = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    sig[0] ^= 0x01
    bad_sig = base64.urlsafe_b64encode(bytes(sig)).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        verify(f"{header}.{payload}.{bad_sig}", discovery)


def test_wrong_audience_and_issuer_rejected(discovery, client_id, client_secret):
    token = fetch(discovery, client_id, client_secret, "client_secret_post")["access_token"]
    key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key.key, algorithms=["RS256"], audience="api://other", issuer=discovery["issuer"])
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(token, key.key, algorithms=["RS256"], audience=GRAPH_AUDIENCE, issuer="http://evil.test/v2.0")


def test_wrong_secret_is_invalid_client(discovery, client_id):
    with pytest.raises(OAuthError) as excinfo:
        fetch(discovery, client_id, "not-the-secret", "client_secret_post")
    assert excinfo.value.error == "invalid_client"


def test_token_accepted_by_graph(discovery, base, client_id, client_secret):
    token = fetch(discovery, client_id, client_secret, "client_secret_basic")["access_token"]
    r = httpx.get(f"{base}/v1.0/users", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["value"], list)


def test_fewer_permissions_get_fewer_roles(discovery, base, ro_client):
    cid, secret = ro_client
    token = fetch(discovery, cid, secret, "client_secret_post")["access_token"]
    claims = verify(token, discovery)
    assert claims["roles"] == ["User.Read.All"]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{base}/v1.0/users", headers=headers, timeout=10).status_code == 200
    r = httpx.post(
        f"{base}/v1.0/groups",
        headers=headers,
        json={"displayName": "x", "mailEnabled": False, "mailNickname": "x", "securityEnabled": True},
        timeout=10,
    )
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "Authorization_RequestDenied"
