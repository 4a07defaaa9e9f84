"""SAML 2.0 direct federation against independent peers.

* pysaml2 (with Debian's xmlsec1 binary) is the partner's identity provider (saml_idp.py): it
  reads Portico's SP metadata and AuthnRequests and signs the responses.
* python3-saml (OneLogin) checks Portico's SP metadata and AuthnRequest against the SAML schemas.

The guest's browser is an httpx client with a cookie jar that follows no redirect by itself: each
hop is driven and checked here. compat/run.sh exports, besides what conftest.py lists:
  PORTICO_FED_CLIENT_ID/_SECRET    an app with IdentityProvider.ReadWrite.All, User.ReadWrite.All
                                   and AuditLog.Read.All (shared with the node federation tests;
                                   the server runs with --danger-accept-unverified-domains, so the
                                   partner's domain needs no DNS proof)
  PORTICO_RP_PY_CLIENT_ID/_SECRET, PORTICO_RP_REDIRECT_URI   the web client of test_code_flow.py
Without xmlsec1 every test but the metadata check skips, or fails when CI is set.
"""

import base64
import hashlib
import os
import re
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import jwt
import pytest

from saml_idp import (
    EMAIL_CLAIM,
    NS_SAML,
    NS_SAMLP,
    PartnerIdp,
    Plan,
    alter_identity,
    assertion_id,
    xmlsec1_path,
    xsw_nested,
    xsw_sibling,
)

PARTNER_DOMAIN = "samlpartner.test"
INVITE_REDIRECT = "https://example.org/after"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
MAX_HOPS = 12


def _need(condition: bool, why: str):
    """Skips, or fails when CI is set (CI must run these tests)."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI is set, so this is a failure)")
    pytest.skip(why)


def _env(name: str) -> str:
    value = os.environ.get(name)
    _need(bool(value), f"{name} is not set: run these tests through compat/run.sh")
    return value


@pytest.fixture(scope="module")
def xmlsec1():
    _need(xmlsec1_path() is not None, "xmlsec1 is not installed (apt-get install xmlsec1): pysaml2 signs with it")


# ------------------------------------------------------------------ Graph


@pytest.fixture(scope="module")
def admin_token(discovery) -> str:
    r = httpx.post(
        discovery["token_endpoint"],
        data={
            "grant_type": "client_credentials",
            "client_id": _env("PORTICO_FED_CLIENT_ID"),
            "client_secret": _env("PORTICO_FED_CLIENT_SECRET"),
            "scope": GRAPH_SCOPE,
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture(scope="module")
def graph(base, admin_token):
    with httpx.Client(
        base_url=f"{base}/v1.0", headers={"authorization": f"Bearer {admin_token}"}, timeout=10, trust_env=False
    ) as g:
        yield g


def guest_state(graph, user_id: str) -> dict:
    r = graph.get(f"/users/{user_id}", params={"$select": "id,mail,userType,externalUserState,identities"})
    assert r.status_code == 200, r.text
    return r.json()


def invite(graph, local: str) -> dict:
    address = f"{local}.{secrets.token_hex(4)}@{PARTNER_DOMAIN}"
    r = graph.post(
        "/invitations",
        json={
            "invitedUserEmailAddress": address,
            "inviteRedirectUrl": INVITE_REDIRECT,
            "sendInvitationMessage": False,
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return {"address": address, "user_id": body["invitedUser"]["id"], "redeem_url": body["inviteRedeemUrl"]}


def sign_in_log_entry(graph, request_id: str) -> dict:
    """The sign-in log entry written while serving `request_id` (its correlationId)."""
    r = graph.get("/auditLogs/signIns", params={"$top": "50"})
    assert r.status_code == 200, r.text
    for e in r.json()["value"]:
        if e.get("correlationId") == request_id:
            return e
    pytest.fail(f"no sign-in log entry with correlationId {request_id} among the 50 newest")


# ------------------------------------------------------------------ the partner IdP and the federation


@pytest.fixture(scope="module")
def sp(base, tenant) -> dict:
    r = httpx.get(f"{base}/{tenant}/federation/saml/metadata", timeout=10, trust_env=False)
    assert r.status_code == 200, r.text
    return {
        "metadata": r.text,
        "content_type": r.headers.get("content-type", ""),
        "entity_id": f"{base}/{tenant}/",
        "acs": f"{base}/{tenant}/federation/saml/acs",
    }


@pytest.fixture(scope="module")
def idp(tmp_path_factory, sp, xmlsec1):
    with PartnerIdp(str(tmp_path_factory.mktemp("partner-idp"))) as p:
        p.trust_sp(sp["metadata"])
        yield p


@pytest.fixture(scope="module")
def federation(graph, idp):
    body = {
        "displayName": "Partner SAML",
        "issuerUri": idp.entity_id,
        "passiveSignInUri": idp.sso_url,
        "preferredAuthenticationProtocol": "saml",
        "signingCertificate": idp.cert_b64,
        "domains": [{"@odata.type": "microsoft.graph.externalDomainName", "id": PARTNER_DOMAIN}],
        "allowPrivateNetwork": True,
    }
    r = graph.post("/directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation", json=body)
    assert r.status_code == 201, (
        f"{r.status_code} {r.text}\n(a 400 about DNS proof means the server was not started with "
        "--danger-accept-unverified-domains)"
    )
    created = r.json()
    yield created
    graph.delete(f"/directory/federationConfigurations/{created['id']}")


# ------------------------------------------------------------------ a tiny browser


class _Forms(HTMLParser):
    """The POST forms of a page (action, hidden inputs) and its meta refresh target."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self.refresh: str | None = None
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._form = {"action": a.get("action") or "", "fields": {}}
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and (a.get("type") or "").lower() == "hidden" and a.get("name"):
            self._form["fields"][a["name"]] = a.get("value") or ""
        elif tag == "meta" and (a.get("http-equiv") or "").lower() == "refresh":
            m = re.search(r"url=(.+)$", a.get("content") or "", re.I)
            if m:
                self.refresh = m.group(1).strip().strip("'\"")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def page(html: str) -> _Forms:
    p = _Forms()
    p.feed(html)
    return p


def form_of(r: httpx.Response, step: str | None = None) -> dict:
    forms = page(r.text).forms
    assert forms, f"no form on the page ({r.status_code} {r.request.url}):\n{r.text[:2000]}"
    f = forms[0]
    if step is not None:
        assert f["fields"].get("step") == step, f"expected the {step!r} step:\n{r.text[:2000]}"
    return f


def new_browser() -> httpx.Client:
    return httpx.Client(follow_redirects=False, timeout=15, trust_env=False)


def follow_local(browser: httpx.Client, r: httpx.Response, base: str) -> httpx.Response:
    """Follows redirects that stay on Portico (bounded)."""
    for _ in range(MAX_HOPS):
        if r.status_code not in (302, 303):
            return r
        loc = urljoin(str(r.request.url), r.headers["location"])
        if not loc.startswith(base + "/"):
            return r
        r = browser.get(loc)
    pytest.fail("too many redirects")


def start_redemption(browser, base: str, guest: dict, idp: PartnerIdp) -> str:
    """Invitation link -> start page -> POST -> 303 to the IdP. Returns the IdP URL."""
    r = follow_local(browser, browser.get(guest["redeem_url"]), base)
    assert r.status_code == 200, f"{r.status_code}:\n{r.text[:2000]}"
    f = form_of(r, "start")
    assert {"flow", "csrf"} <= set(f["fields"]), f
    r = browser.post(urljoin(str(r.request.url), f["action"]), data=f["fields"])
    assert r.status_code == 303, f"{r.status_code}:\n{r.text[:2000]}"
    loc = r.headers["location"]
    assert loc.startswith(idp.sso_url + "?"), f"not sent to the partner IdP: {loc}"
    return loc


def idp_answer(browser, idp_url: str) -> dict:
    """GET the IdP (HTTP-Redirect binding) -> its auto-post form (HTTP-POST binding)."""
    r = browser.get(idp_url)
    assert r.status_code == 200, f"the IdP answered {r.status_code}: {r.text[:2000]}"
    f = form_of(r)
    assert "SAMLResponse" in f["fields"] and "RelayState" in f["fields"], f
    return f


def post_acs(f: dict) -> httpx.Response:
    """The cross-site POST to the ACS: a request without the browser's cookies (SameSite=Lax)."""
    with new_browser() as bare:
        return bare.post(f["action"], data=f["fields"])


def finish_redemption(browser, base: str, acs_answer: httpx.Response) -> httpx.Response:
    """ACS 303 -> continue (with cookies) -> consent -> accept. Returns the last response."""
    assert acs_answer.status_code == 303, f"ACS answered {acs_answer.status_code}:\n{acs_answer.text[:3000]}"
    loc = urljoin(str(acs_answer.request.url), acs_answer.headers["location"])
    assert urlsplit(loc).path.endswith("/federation/saml/continue"), loc
    r = follow_local(browser, browser.get(loc), base)
    assert r.status_code == 200, f"{r.status_code}:\n{r.text[:2000]}"
    f = form_of(r, "consent")
    r = browser.post(urljoin(str(r.request.url), f["action"]), data=dict(f["fields"], decision="accept"))
    return follow_local(browser, r, base)


def assert_refused(r: httpx.Response, graph, guest: dict, reasons: set[str]) -> dict:
    """An error page with the request id, a sign-in log entry naming one of `reasons`, and the
    guest still PendingAcceptance. Returns the log entry."""
    assert r.status_code in (400, 403), f"expected an error page, got {r.status_code}:\n{r.text[:2000]}"
    assert "location" not in r.headers
    rid = r.headers.get("request-id")
    assert rid, "the error page carries no request-id header"
    assert rid in r.text, f"the error page does not show the request id {rid}:\n{r.text[:2000]}"
    entry = sign_in_log_entry(graph, rid)
    reason = (entry["status"]["failureReason"] or "").split(":", 1)[0]
    assert reason in reasons, f"failureReason {entry['status']['failureReason']!r}, expected one of {sorted(reasons)}"
    assert entry["status"]["errorCode"] != 0, entry
    assert entry["userId"] == guest["user_id"], entry
    assert guest_state(graph, guest["user_id"])["externalUserState"] == "PendingAcceptance"
    return entry


# ------------------------------------------------------------------ 1. python3-saml on the SP side


def test_sp_metadata_is_schema_valid_for_python3_saml(sp):
    from onelogin.saml2.settings import OneLogin_Saml2_Settings
    from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

    assert sp["content_type"].startswith("application/samlmetadata+xml"), sp["content_type"]
    doc = OneLogin_Saml2_XML.validate_xml(sp["metadata"], "saml-schema-metadata-2.0.xsd")
    assert not isinstance(doc, str), f"python3-saml: the metadata is not schema-valid: {doc}"
    settings = OneLogin_Saml2_Settings(
        {"strict": True, "sp": {"entityId": sp["entity_id"], "assertionConsumerService": {"url": sp["acs"]}}},
        sp_validation_only=True,
    )
    assert settings.validate_metadata(sp["metadata"]) == []
    ns = {"md": "urn:oasis:names:tc:SAML:2.0:metadata"}
    assert doc.get("entityID") == sp["entity_id"]
    acs = doc.findall("md:SPSSODescriptor/md:AssertionConsumerService", ns)
    assert [(a.get("Binding"), a.get("Location")) for a in acs] == [
        ("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", sp["acs"])
    ]
    descriptor = doc.find("md:SPSSODescriptor", ns)
    assert descriptor.get("WantAssertionsSigned") == "true"


def test_authn_request_is_schema_valid_and_addressed(base, graph, federation, idp, sp):
    from onelogin.saml2.utils import OneLogin_Saml2_Utils
    from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

    guest = invite(graph, "schema")
    with new_browser() as browser:
        idp_url = start_redemption(browser, base, guest, idp)
    q = parse_qs(urlsplit(idp_url).query)
    assert set(q) == {"SAMLRequest", "RelayState"}, q.keys()
    assert len(q["RelayState"][0].encode()) <= 80  # SAML bindings 3.4.3
    xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(q["SAMLRequest"][0])
    doc = OneLogin_Saml2_XML.validate_xml(xml, "saml-schema-protocol-2.0.xsd")
    assert not isinstance(doc, str), f"python3-saml: the AuthnRequest is not schema-valid: {doc}\n{xml}"
    assert doc.tag == f"{{{NS_SAMLP}}}AuthnRequest"
    assert doc.get("Destination") == idp.sso_url == federation["passiveSignInUri"]
    assert doc.get("AssertionConsumerServiceURL") == sp["acs"]
    assert doc.get("ProtocolBinding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    assert doc.get("Version") == "2.0"
    assert re.fullmatch(r"[A-Za-z_][\w.-]*", doc.get("ID")), doc.get("ID")
    assert doc.findtext(f"{{{NS_SAML}}}Issuer") == sp["entity_id"]
    assert doc.find(f"{{{NS_SAMLP}}}NameIDPolicy").get("Format") == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    # pysaml2, as the IdP, accepts it too (Destination against its endpoint, ACS against the metadata).
    req, args = idp.parse_request(q["SAMLRequest"][0])
    assert args["destination"] == sp["acs"]
    assert args["sp_entity_id"] == sp["entity_id"]
    assert req.message.id == doc.get("ID")


# ------------------------------------------------------------------ 2. redemption through the IdP, and replay


@pytest.fixture(scope="module")
def accepted(base, graph, federation, idp, sp):
    """Ann redeems her invitation through the partner IdP (signed response and assertion)."""
    guest = invite(graph, "ann")
    guest["name_id"] = "ann-" + secrets.token_hex(8)
    with new_browser() as browser:
        idp_url = start_redemption(browser, base, guest, idp)
        idp.plan(Plan(guest["address"], guest["name_id"]))
        f = idp_answer(browser, idp_url)
        ex = idp.exchanges[-1]
        assert ex["acs"] == sp["acs"] and ex["sp_entity_id"] == sp["entity_id"], ex
        assert ex.get("subject_hint") in (None, guest["address"])
        acs = post_acs(f)
        last = finish_redemption(browser, base, acs)
    guest.update(form=f, response=ex["response"], last=last, acs=acs)
    return guest


def test_redemption_through_pysaml2_idp(accepted, graph, idp):
    from lxml import etree

    # The response really was signed twice, with RSA-SHA256, by pysaml2/xmlsec1.
    doc = etree.fromstring(accepted["response"].encode())
    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    assert doc.find(f"{ds}Signature") is not None
    assert doc.find(f"{{{NS_SAML}}}Assertion/{ds}Signature") is not None
    assert {m.get("Algorithm") for m in doc.iter(f"{ds}SignatureMethod")} == {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    }
    assert [a.get("Name") for a in doc.iter(f"{{{NS_SAML}}}Attribute")][0] == EMAIL_CLAIM
    # The last page moves on to inviteRedirectUrl.
    last = accepted["last"]
    assert last.status_code in (200, 303), f"{last.status_code}:\n{last.text[:2000]}"
    target = last.headers["location"] if last.status_code == 303 else page(last.text).refresh
    assert target == INVITE_REDIRECT, f"{last.status_code} {target!r}:\n{last.text[:2000]}"
    # Graph: Accepted, with the federated identity (issuer = IdP entity id, id = the NameID).
    u = guest_state(graph, accepted["user_id"])
    assert u["externalUserState"] == "Accepted", u
    assert {
        "signInType": "federated",
        "issuer": idp.entity_id,
        "issuerAssignedId": accepted["name_id"],
    } in [{k: i.get(k) for k in ("signInType", "issuer", "issuerAssignedId")} for i in u["identities"]], u["identities"]


def test_replayed_response_is_refused(accepted, base, graph, federation, idp):
    # The very same POST again: its request (RelayState / InResponseTo) was used up.
    again = post_acs(accepted["form"])
    assert again.status_code in (400, 403), f"{again.status_code}:\n{again.text[:2000]}"
    assert "location" not in again.headers
    assert again.headers["request-id"] in again.text
    # The same assertion (its ID re-used by the IdP, validly signed) answering a new request:
    # the replay cache refuses it.
    ann_assertion = assertion_id(accepted["response"])
    other = invite(graph, "replay")
    with new_browser() as browser:
        idp_url = start_redemption(browser, base, other, idp)
        idp.plan(Plan(other["address"], "replay-1", assertion_id=ann_assertion))
        r = post_acs(idp_answer(browser, idp_url))
    entry = assert_refused(r, graph, other, {"replayed"})
    assert ann_assertion in entry["status"]["failureReason"]


# ------------------------------------------------------------------ 3. bad responses


def _tamper_email(xml: str) -> str:
    return alter_identity(xml, "mallory", f"mallory@{PARTNER_DOMAIN}")


BAD = {
    # name: (plan options, failure reasons accepted)
    "unsigned": (dict(sign_response=False, sign_assertion=False), {"signature_missing"}),
    "other_key": (dict(key="rogue"), {"certificate_unknown", "signature_invalid"}),
    "xsw_assertion_in_advice": (
        dict(sign_response=False, tamper=lambda x: xsw_nested(x, "mallory", f"mallory@{PARTNER_DOMAIN}")),
        {"wrapped"},
    ),
    "xsw_evil_sibling_same_id": (
        dict(sign_response=False, tamper=lambda x: xsw_sibling(x, "mallory", f"mallory@{PARTNER_DOMAIN}")),
        {"wrapped", "multiple_assertions"},
    ),
    "altered_after_signing": (dict(sign_response=False, tamper=_tamper_email), {"digest_mismatch", "signature_invalid"}),
    "expired": (dict(clock_offset_s=-1200, lifetime_s=300), {"expired"}),
    "wrong_audience": (dict(audience="https://other-sp.example/"), {"audience_mismatch"}),
    "wrong_destination": ("destination", {"destination_mismatch", "recipient_mismatch"}),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_response_is_refused(case, base, tenant, graph, federation, idp):
    options, reasons = BAD[case]
    if options == "destination":
        options = dict(destination=f"{base}/{tenant}/federation/saml/acs-elsewhere")
    guest = invite(graph, case.replace("_", "-"))
    with new_browser() as browser:
        idp_url = start_redemption(browser, base, guest, idp)
        idp.plan(Plan(guest["address"], f"{case}-1", **options))
        r = post_acs(idp_answer(browser, idp_url))
    assert_refused(r, graph, guest, reasons)


# ------------------------------------------------------------------ 4. the accepted guest signs in again


def test_guest_sign_in_goes_to_the_idp(accepted, base, discovery, idp):
    rp = {
        "client_id": _env("PORTICO_RP_PY_CLIENT_ID"),
        "client_secret": _env("PORTICO_RP_PY_CLIENT_SECRET"),
        "redirect_uri": _env("PORTICO_RP_REDIRECT_URI"),
    }
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    url = (
        discovery["authorization_endpoint"]
        + "?"
        + urlencode(
            {
                "client_id": rp["client_id"],
                "response_type": "code",
                "redirect_uri": rp["redirect_uri"],
                "scope": "openid",
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
    )
    steps, callback, went_to_idp = [], None, False
    seen = len(idp.exchanges)
    with new_browser() as browser:
        r = browser.get(url)
        for _ in range(MAX_HOPS):
            here = str(r.request.url)
            if r.status_code in (302, 303):
                loc = urljoin(here, r.headers["location"])
                if loc.startswith(rp["redirect_uri"]):
                    callback = loc
                    break
                if loc.startswith(idp.sso_url + "?"):
                    went_to_idp = True
                    steps.append("idp")
                    idp.plan(Plan(accepted["address"], accepted["name_id"]))
                    acs = post_acs(idp_answer(browser, loc))
                    assert acs.status_code == 303, f"ACS answered {acs.status_code}:\n{acs.text[:3000]}"
                    r = browser.get(urljoin(str(acs.request.url), acs.headers["location"]))
                    continue
                r = browser.get(loc)
                continue
            assert r.status_code == 200, f"{r.status_code} at {here}:\n{r.text[:2000]}"
            p = page(r.text)
            if not p.forms and p.refresh:
                steps.append("continue")
                if p.refresh.startswith(rp["redirect_uri"]):
                    callback = p.refresh
                    break
                r = browser.get(urljoin(here, p.refresh))
                continue
            f = form_of(r)
            step = f["fields"].get("step")
            steps.append(step)
            fields = dict(f["fields"])
            if step == "identify":
                fields["login"] = accepted["address"]
            elif step == "kmsi":
                fields["stay"] = "no"
            elif step == "consent":
                fields["decision"] = "accept"
            else:
                pytest.fail(f"unexpected sign-in step {step!r} after {steps}:\n{r.text[:2000]}")
            r = browser.post(urljoin(here, f["action"]), data=fields)
        else:
            pytest.fail(f"the sign-in did not reach the redirect URI in {MAX_HOPS} hops: {steps}")
    assert went_to_idp, f"the guest was not sent to the partner IdP: {steps}"
    assert steps[0] == "identify" and "password" not in steps, steps
    q = parse_qs(urlsplit(callback).query)
    assert q.get("state") == [state], q
    assert "code" in q, q
    token = httpx.post(
        discovery["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": q["code"][0],
            "redirect_uri": rp["redirect_uri"],
            "code_verifier": verifier,
        },
        auth=(rp["client_id"], rp["client_secret"]),
        timeout=10,
        trust_env=False,
    )
    assert token.status_code == 200, token.text
    t = token.json()
    jwks = jwt.PyJWKSet.from_dict(httpx.get(discovery["jwks_uri"], timeout=10, trust_env=False).json())
    kid = jwt.get_unverified_header(t["id_token"])["kid"]
    key = next(k.key for k in jwks.keys if k.key_id == kid)
    claims = jwt.decode(
        t["id_token"], key, algorithms=discovery["id_token_signing_alg_values_supported"], audience=rp["client_id"],
        issuer=discovery["issuer"], leeway=60,
    )
    assert claims["nonce"] == nonce
    assert claims["idp"] == idp.entity_id, claims
    assert claims["acct"] == 1, claims
    assert "fed" in claims.get("amr", []), claims
    at = jwt.decode(t["access_token"], options={"verify_signature": False})
    assert at["idp"] == idp.entity_id and at["acct"] == 1, at
    # The sign-in went through the IdP exactly once more, with a fresh AuthnRequest.
    assert len(idp.exchanges) == seen + 1 and idp.exchanges[-1].get("response"), idp.exchanges[seen:]
