"""A partner's SAML 2.0 identity provider for the interop tests: pysaml2's `saml2.server.Server`
(signing with Debian's xmlsec1 binary) behind a tiny http.server app on 127.0.0.1.

    with PartnerIdp(tmpdir) as idp:           # binds 127.0.0.1:0, serves in a thread
        idp.trust_sp(portico_sp_metadata_xml)  # the SP it will answer
        idp.plan(email=..., name_id=...)       # what the *next* sign-on answers
        GET idp.sso_url?SAMLRequest=..&RelayState=..   (HTTP-Redirect binding)
          -> 200 HTML auto-post form (HTTP-POST binding) with SAMLResponse and RelayState

Nothing here is Portico code: the AuthnRequest is parsed and checked by pysaml2 (Destination
against its own endpoint, the ACS URL against the SP's metadata), and the response is built and
signed by pysaml2 with xmlsec1. Bad responses for the negative tests are made the way a broken or
hostile IdP would make them: pysaml2 options (unsigned, another key, another audience or
destination, a clock in the past) and, for signature wrapping, lxml edits of a validly signed
response (`xsw_*`).
"""

from __future__ import annotations

import base64
import datetime
import html
import os
import secrets
import shutil
import threading
import time
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

with warnings.catch_warnings():
    # pysaml2 7.5.5 names cryptography's CFB mode at import, which cryptography 50 reports as moved.
    warnings.filterwarnings("ignore", message="CFB has been moved")
    import saml2.cryptography.symmetric  # noqa: F401
    import saml2.server  # noqa: F401

EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"

# pysaml2 maps local attribute names to SAML attribute Names through "attribute maps"; this one
# gives the WS-Federation claim URIs Entra's SAML direct federation expects.
_ATTRIBUTE_MAP = f'''
MAP = {{
    "identifier": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
    "fro": {{
        "{CLAIMS}emailaddress": "emailAddress",
        "{CLAIMS}givenname": "givenName",
        "{CLAIMS}surname": "surname",
        "{CLAIMS}name": "name",
    }},
    "to": {{
        "emailAddress": "{CLAIMS}emailaddress",
        "givenName": "{CLAIMS}givenname",
        "surname": "{CLAIMS}surname",
        "name": "{CLAIMS}name",
    }},
}}
'''


def xmlsec1_path() -> str | None:
    """Debian's xmlsec1 binary (pysaml2 signs with it), or None."""
    return shutil.which("xmlsec1")


def make_signing_key(directory: str, name: str, common_name: str) -> tuple[str, str, str]:
    """A fresh RSA-2048 key and self-signed certificate (SHA-256). Returns (key file, cert file,
    base64 DER of the certificate, as Graph's signingCertificate wants it)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_file = os.path.join(directory, f"{name}.key")
    cert_file = os.path.join(directory, f"{name}.crt")
    with open(key_file, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            )
        )
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file, base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


class Plan:
    """How the IdP answers one sign-on. Defaults: a good response (signed response and signed
    assertion, RSA-SHA256, 5 minutes of validity) for `email` with a persistent `name_id`."""

    def __init__(
        self,
        email: str,
        name_id: str,
        *,
        sign_response: bool = True,
        sign_assertion: bool = True,
        key: str = "good",
        audience: str | None = None,
        destination: str | None = None,
        clock_offset_s: int = 0,
        lifetime_s: int = 300,
        assertion_id: str | None = None,
        tamper=None,
    ):
        self.email = email
        self.name_id = name_id
        self.sign_response = sign_response
        self.sign_assertion = sign_assertion
        self.key = key  # "good" (the configured certificate) or "rogue" (another key, same entity id)
        self.audience = audience  # None: the requesting SP's entity id
        self.destination = destination  # None: the ACS URL of the request
        self.clock_offset_s = clock_offset_s  # the IdP's clock, relative to ours (negative: in the past)
        self.lifetime_s = lifetime_s
        self.assertion_id = assertion_id  # None: a fresh one (pysaml2's)
        self.tamper = tamper  # None, or a function response XML (str) -> response XML (str)


class PartnerIdp:
    """The IdP: `entity_id`, `sso_url`, `cert_b64` (the certificate Portico must trust)."""

    def __init__(self, workdir: str):
        if not xmlsec1_path():
            raise RuntimeError("xmlsec1 is not installed (apt-get install xmlsec1)")
        self.workdir = workdir
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.idp = self
        port = self._httpd.server_address[1]
        self.base = f"http://127.0.0.1:{port}"
        self.entity_id = f"{self.base}/idp"
        self.sso_url = f"{self.base}/sso/redirect"
        self._keys = {
            "good": make_signing_key(workdir, "idp-good", "Partner IdP signing"),
            "rogue": make_signing_key(workdir, "idp-rogue", "Partner IdP signing"),
        }
        self.cert_b64 = self._keys["good"][2]
        self.rogue_cert_b64 = self._keys["rogue"][2]
        map_dir = os.path.join(workdir, "attributemaps")
        os.makedirs(map_dir, exist_ok=True)
        with open(os.path.join(map_dir, "claims.py"), "w") as f:
            f.write(_ATTRIBUTE_MAP)
        self._map_dir = map_dir
        self._sp_metadata: list[str] = []
        self._servers: dict = {}
        self._lock = threading.Lock()
        self._plans: list[Plan] = []
        # What the IdP saw and sent, newest last: dicts with request (AuthnRequest XML), relay_state,
        # acs, sp_entity_id, request_id, response (XML) or error.
        self.exchanges: list[dict] = []
        self._thread = None

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self):
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    # ---------------------------------------------------------------- configuration
    def trust_sp(self, *sp_metadata_xml: str):
        """The service providers (their metadata XML) this IdP answers."""
        self._sp_metadata = list(sp_metadata_xml)
        self._servers = {}

    def server(self, key: str = "good"):
        """pysaml2's Server signing with `key` ("good" or "rogue"); both have this entity id."""
        if key not in self._servers:
            from saml2 import BINDING_HTTP_REDIRECT
            from saml2.config import IdPConfig
            from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT
            from saml2.server import Server
            from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

            key_file, cert_file, _ = self._keys[key]
            conf = IdPConfig()
            conf.load(
                {
                    "entityid": self.entity_id,
                    "service": {
                        "idp": {
                            "name": "Partner IdP (pysaml2)",
                            "endpoints": {"single_sign_on_service": [(self.sso_url, BINDING_HTTP_REDIRECT)]},
                            "policy": {
                                "default": {
                                    "lifetime": {"minutes": 5},
                                    "attribute_restrictions": None,
                                    "name_form": NAME_FORMAT_URI,
                                }
                            },
                            "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                            "want_authn_requests_signed": False,
                            "sign_response": True,
                            "sign_assertion": True,
                        }
                    },
                    "key_file": key_file,
                    "cert_file": cert_file,
                    "xmlsec_binary": xmlsec1_path(),
                    "crypto_backend": "xmlsec1",
                    "signing_algorithm": SIG_RSA_SHA256,
                    "digest_algorithm": DIGEST_SHA256,
                    "attribute_map_dir": self._map_dir,
                    "metadata": {"inline": self._sp_metadata},
                    "accepted_time_diff": 60,
                    "delete_tmpfiles": True,
                }
            )
            self._servers[key] = Server(config=conf)
        return self._servers[key]

    def plan(self, plan: Plan):
        """Queues how the next sign-on is answered (first in, first out)."""
        with self._lock:
            self._plans.append(plan)

    def _next_plan(self) -> Plan | None:
        with self._lock:
            return self._plans.pop(0) if self._plans else None

    # ---------------------------------------------------------------- SAML
    def parse_request(self, saml_request: str):
        """pysaml2's reading of an AuthnRequest (HTTP-Redirect binding): the request object and
        its response arguments (the ACS URL looked up in the SP's metadata)."""
        from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT

        srv = self.server("good")
        req = srv.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        if req is None:
            raise ValueError("pysaml2 did not accept the AuthnRequest")
        args = srv.response_args(req.message, [BINDING_HTTP_POST])
        return req, args

    def build_response(self, plan: Plan, request_id: str, acs_url: str, sp_entity_id: str) -> str:
        """The SAML Response (XML text) pysaml2 makes for `plan`."""
        import saml2.assertion
        import saml2.entity
        import saml2.s_utils
        from saml2.s_utils import assertion_factory
        from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID, AUTHN_PASSWORD_PROTECTED
        from saml2.time_util import TIME_FORMAT
        from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

        srv = self.server(plan.key)
        audience = plan.audience or sp_entity_id
        offset = plan.clock_offset_s

        def instant(format=TIME_FORMAT, time_stamp=0):
            return time.strftime(format, time.gmtime(time_stamp or (time.time() + offset)))

        def in_a_while(format=TIME_FORMAT, **delta):
            then = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(**delta) + datetime.timedelta(seconds=offset)
            return then.strftime(format)

        def factory(**kw):
            a = assertion_factory(**kw)
            if plan.assertion_id:
                a.id = plan.assertion_id
            return a

        with ExitStack() as patches:
            # The IdP's clock (IssueInstant, NotBefore, AuthnInstant, NotOnOrAfter) and, for the replay
            # test, an assertion ID the IdP re-uses.
            for target in ("saml2.s_utils.instant", "saml2.assertion.instant", "saml2.entity.instant"):
                patches.enter_context(mock.patch(target, instant))
            patches.enter_context(mock.patch("saml2.assertion.in_a_while", in_a_while))
            patches.enter_context(mock.patch("saml2.assertion.assertion_factory", factory))
            patches.enter_context(
                mock.patch.object(srv.config.getattr("policy", "idp"), "get_lifetime", lambda _sp: {"seconds": plan.lifetime_s})
            )
            if audience != sp_entity_id:
                # pysaml2 builds the audience from the SP it answers; a response for another SP.
                self._ensure_sp_known(srv, audience)
            resp = srv.create_authn_response(
                identity={"emailAddress": [plan.email], "givenName": ["Ann"], "surname": ["Partner"]},
                in_response_to=request_id,
                destination=plan.destination or acs_url,
                sp_entity_id=audience,
                name_id=NameID(
                    format=NAMEID_FORMAT_PERSISTENT,
                    text=plan.name_id,
                    name_qualifier=self.entity_id,
                    sp_name_qualifier=audience,
                ),
                authn={"class_ref": AUTHN_PASSWORD_PROTECTED, "authn_auth": self.entity_id},
                sign_response=plan.sign_response,
                sign_assertion=plan.sign_assertion,
                # pysaml2 7.5 still signs with RSA-SHA1 unless told otherwise (Portico refuses SHA-1).
                sign_alg=SIG_RSA_SHA256,
                digest_alg=DIGEST_SHA256,
            )
        xml = resp if isinstance(resp, str) else str(resp)
        if plan.tamper is not None:
            xml = plan.tamper(xml)
        return xml

    def _ensure_sp_known(self, srv, entity_id: str):
        try:
            srv.metadata[entity_id]
        except KeyError:
            srv.metadata.load("inline", other_sp_metadata(entity_id))

    def sign_on(self, saml_request: str, relay_state: str | None) -> tuple[int, str]:
        """Answers GET /sso/redirect: (status, HTML)."""
        ex: dict = {"relay_state": relay_state}
        self.exchanges.append(ex)
        try:
            req, args = self.parse_request(saml_request)
        except Exception as e:  # noqa: BLE001 - shown to the test as the page
            ex["error"] = f"{type(e).__name__}: {e}"
            return 400, f"<p>pysaml2 refused the AuthnRequest: {html.escape(ex['error'])}</p>"
        ex.update(
            request=req.xmlstr.decode() if isinstance(req.xmlstr, bytes) else req.xmlstr,
            request_id=req.message.id,
            acs=args["destination"],
            sp_entity_id=args["sp_entity_id"],
            subject_hint=req.message.subject.name_id.text if req.message.subject and req.message.subject.name_id else None,
        )
        plan = self._next_plan()
        if plan is None:
            ex["error"] = "no plan: the test did not say how to answer"
            return 500, "<p>no plan</p>"
        try:
            xml = self.build_response(plan, req.message.id, args["destination"], args["sp_entity_id"])
        except Exception as e:  # noqa: BLE001
            ex["error"] = f"{type(e).__name__}: {e}"
            return 500, f"<p>pysaml2 could not answer: {html.escape(ex['error'])}</p>"
        ex["response"] = xml
        return 200, post_form(args["destination"], xml, relay_state)


def post_form(action: str, response_xml: str, relay_state: str | None) -> str:
    """The HTTP-POST binding's auto-submitting form."""
    fields = f'<input type="hidden" name="SAMLResponse" value="{base64.b64encode(response_xml.encode()).decode()}"/>'
    if relay_state is not None:
        fields += f'<input type="hidden" name="RelayState" value="{html.escape(relay_state, quote=True)}"/>'
    return (
        "<!DOCTYPE html><html><body onload=\"document.forms[0].submit()\">"
        f'<form method="post" action="{html.escape(action, quote=True)}">{fields}'
        '<noscript><button type="submit">Continue</button></noscript></form></body></html>'
    )


def other_sp_metadata(entity_id: str, acs: str | None = None) -> str:
    """Metadata of an unrelated SP (for a response addressed to someone else)."""
    acs = acs or entity_id.rstrip("/") + "/acs"
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'entityID="{html.escape(entity_id, quote=True)}"><md:SPSSODescriptor '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f'Location="{html.escape(acs, quote=True)}" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>'
    )


class _Handler(BaseHTTPRequestHandler):
    server_version = "PartnerIdp/1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        u = urlsplit(self.path)
        idp: PartnerIdp = self.server.idp
        if u.path != urlsplit(idp.sso_url).path:
            return self._send(404, "<p>not found</p>")
        q = parse_qs(u.query)
        if "SAMLRequest" not in q:
            return self._send(400, "<p>no SAMLRequest</p>")
        status, body = idp.sign_on(q["SAMLRequest"][0], q.get("RelayState", [None])[0])
        self._send(status, body)

    def _send(self, status: int, body: str):
        data = body.encode()
        self.send_response(status)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# -------------------------------------------------------------------- signature wrapping (XSW)


def _parse(xml: str):
    from lxml import etree

    return etree.fromstring(xml.encode(), etree.XMLParser(resolve_entities=False, no_network=True))


def _tostring(root) -> str:
    from lxml import etree

    return etree.tostring(root, encoding="unicode")


def _rewrite_identity(assertion, name_id: str, email: str):
    for n in assertion.iter(f"{{{NS_SAML}}}NameID"):
        n.text = name_id
    for a in assertion.iter(f"{{{NS_SAML}}}Attribute"):
        if a.get("Name") == EMAIL_CLAIM:
            for v in a.iter(f"{{{NS_SAML}}}AttributeValue"):
                v.text = email


def xsw_nested(xml: str, evil_name_id: str, evil_email: str) -> str:
    """XSW: the signed assertion is moved into an unsigned evil copy's Advice (where a careless
    SP's signature check still finds it), and the evil copy, with another subject and address,
    takes its place in the response. Works on a response whose assertion is signed."""
    import copy

    root = _parse(xml)
    signed = root.find(f"{{{NS_SAML}}}Assertion")
    evil = copy.deepcopy(signed)
    for sig in evil.findall(f"{{{NS_DS}}}Signature"):
        evil.remove(sig)
    evil.set("ID", "_evil" + secrets.token_hex(16))
    _rewrite_identity(evil, evil_name_id, evil_email)
    advice = evil.makeelement(f"{{{NS_SAML}}}Advice", nsmap={"saml": NS_SAML})
    # Advice comes after Conditions in saml:Assertion's sequence.
    conditions = evil.find(f"{{{NS_SAML}}}Conditions")
    (conditions.addnext if conditions is not None else evil.append)(advice)
    root.replace(signed, evil)
    advice.append(signed)
    return _tostring(root)


def xsw_sibling(xml: str, evil_name_id: str, evil_email: str) -> str:
    """XSW: an unsigned evil assertion with the signed one's ID, another subject and address is
    inserted before the signed assertion (an SP that looks up the signed ID and then reads "the
    first assertion" takes the evil one)."""
    import copy

    root = _parse(xml)
    signed = root.find(f"{{{NS_SAML}}}Assertion")
    evil = copy.deepcopy(signed)
    for sig in evil.findall(f"{{{NS_DS}}}Signature"):
        evil.remove(sig)
    _rewrite_identity(evil, evil_name_id, evil_email)
    signed.addprevious(evil)
    return _tostring(root)


def alter_identity(xml: str, name_id: str, email: str) -> str:
    """The response with the (signed) assertion's NameID and address changed in place, its
    signature left as it was."""
    root = _parse(xml)
    _rewrite_identity(root.find(f"{{{NS_SAML}}}Assertion"), name_id, email)
    return _tostring(root)


def assertion_id(xml: str) -> str:
    """The ID of the response's assertion."""
    return _parse(xml).find(f"{{{NS_SAML}}}Assertion").get("ID")


def strip_signatures(xml: str) -> str:
    """The response with every ds:Signature removed."""
    root = _parse(xml)
    for sig in list(root.iter(f"{{{NS_DS}}}Signature")):
        sig.getparent().remove(sig)
    return _tostring(root)
