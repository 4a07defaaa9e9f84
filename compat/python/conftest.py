"""Shared fixtures for the interop tests against a running Portico.

compat/run.sh starts the server and exports:
  PORTICO_BASE            e.g. http://127.0.0.1:PORT
  PORTICO_TENANT          tenant id (GUID)
  PORTICO_CLIENT_ID       app with User/Group ReadWrite + AuditLog.Read.All
  PORTICO_CLIENT_SECRET
  PORTICO_RO_CLIENT_ID    (optional) app with User.Read.All only
  PORTICO_RO_CLIENT_SECRET
"""

import os

# authlib 1.9 installs an "always" filter for its own warnings when authlib.deprecate is first
# imported; importing it here, before collection, lets pytest.ini's filters take precedence.
import authlib.deprecate  # noqa: F401
import httpx
import pytest

GRAPH_AUDIENCE = "https://graph.microsoft.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run these tests through compat/run.sh")
    return value


@pytest.fixture(scope="session")
def base() -> str:
    return _env("PORTICO_BASE").rstrip("/")


@pytest.fixture(scope="session")
def tenant() -> str:
    return _env("PORTICO_TENANT")


@pytest.fixture(scope="session")
def client_id() -> str:
    return _env("PORTICO_CLIENT_ID")


@pytest.fixture(scope="session")
def client_secret() -> str:
    return _env("PORTICO_CLIENT_SECRET")


@pytest.fixture(scope="session")
def ro_client():
    cid = os.environ.get("PORTICO_RO_CLIENT_ID")
    secret = os.environ.get("PORTICO_RO_CLIENT_SECRET")
    if not cid or not secret:
        pytest.skip("PORTICO_RO_CLIENT_ID/SECRET not set")
    return cid, secret


@pytest.fixture(scope="session")
def discovery(base, tenant) -> dict:
    r = httpx.get(f"{base}/{tenant}/v2.0/.well-known/openid-configuration", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="session")
def access_token(discovery, client_id, client_secret) -> str:
    """A Graph token for the full-permission app (plain form POST; the OAuth
    libraries themselves are exercised in test_client_credentials.py)."""
    r = httpx.post(
        discovery["token_endpoint"],
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": GRAPH_SCOPE,
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]
