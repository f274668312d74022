#!/usr/bin/python3
"""Drive every ACME endpoint of lantrust-server with certbot's own `acme` library (Debian
python3-acme), an ACME client written independently of lantrust (RFC 8555).

Usage: python_acme.py DIRECTORY_URL CA_BUNDLE DEVICE_ID HTTP01_PORT

The server must serve DEVICE_ID.local and DEVICE_ID.<domain> (its `--resolve` entries) at
127.0.0.1:HTTP01_PORT, where this script answers http-01 itself, and run `--generic-clients`
(the library's CSRs have an empty subject). The first issuance waits for the owner: the caller
approves DEVICE_ID once `pending` lists it. Each check prints `OK <what>`; any failure raises.
"""

import datetime
import http.server
import json
import sys
import threading

import josepy as jose
import OpenSSL
from acme import challenges, client, crypto_util, errors, messages
from acme import jws as acme_jws
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

DIRECTORY, CA_BUNDLE, DEVICE, HTTP01_PORT = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
DOMAIN = "home.arpa"
NAMES = [f"{DEVICE}.local", f"{DEVICE}.{DOMAIN}"]
ERR = "urn:ietf:params:acme:error:"


def name(status):
    """A status as its JSON string (the library gives a `Status` for orders and
    authorizations, a plain string for accounts)."""
    return getattr(status, "name", status)


def ok(what):
    print(f"OK {what}", flush=True)


def problem(call, *args):
    """Run `call`, which must fail with an ACME problem document; return it."""
    try:
        call(*args)
    except messages.Error as e:
        return e
    raise AssertionError(f"{call.__name__} succeeded; a problem was expected")


def new_key():
    return jose.JWKEC(key=ec.generate_private_key(ec.SECP384R1()))


def pem_key():
    key = ec.generate_private_key(ec.SECP384R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def post(net, url, obj):
    """A signed POST (or POST-as-GET with `obj` None), a fresh nonce from newNonce as the
    library's own calls take it."""
    return net.post(url, obj, new_nonce_url=DIRECTORY.replace("/directory", "/new-nonce"))


def connect(key, account=None):
    net = client.ClientNetwork(key, account=account, alg=jose.ES384, verify_ssl=CA_BUNDLE,
                               user_agent="lantrust-python-acme-test")
    directory = client.ClientV2.get_directory(DIRECTORY, net)
    return net, client.ClientV2(directory, net)


# --- http-01 responder (RFC 8555 §8.3) on 127.0.0.1 ---------------------------------------
TOKENS = {}


class Http01(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = TOKENS.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


responder = http.server.ThreadingHTTPServer(("127.0.0.1", HTTP01_PORT), Http01)
threading.Thread(target=responder.serve_forever, daemon=True).start()

# --- directory (§7.1.1), newNonce (§7.2) -----------------------------------------------------
key = new_key()
net, acme = connect(key)
d = acme.directory
for field in ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange"):
    assert d[field].startswith("https://"), (field, d)
ok("directory")
r = net.head(d["newNonce"])
assert r.status_code == 200 and r.headers.get("Replay-Nonce"), (r.status_code, r.headers)
assert 'rel="index"' in r.headers.get("Link", ""), r.headers
ok("newNonce HEAD 200")
r = net.get(d["newNonce"], content_type=None)
assert r.status_code == 204 and r.headers.get("Replay-Nonce"), (r.status_code, r.headers)
ok("newNonce GET 204")

# --- newAccount (§7.3), onlyReturnExisting (§7.3.1), update (§7.3.2) --------------------------
p = problem(acme.new_account, messages.NewRegistration(only_return_existing=True))
assert p.typ == ERR + "accountDoesNotExist", p
ok("onlyReturnExisting for an unknown key: accountDoesNotExist")
regr = acme.new_account(messages.NewRegistration.from_data(
    email="admin@example.org", terms_of_service_agreed=True))
assert regr.uri and name(regr.body.status) == "valid", regr
ok("newAccount 201")
net.account = None  # newAccount is signed with the key itself (§7.3), as the library does
try:
    acme.new_account(messages.NewRegistration(only_return_existing=True))
    raise AssertionError("onlyReturnExisting for a known key must answer 200 with Location")
except errors.ConflictError as e:
    assert e.location == regr.uri, (e.location, regr.uri)
net.account = regr
ok("onlyReturnExisting for a known key: 200 with its Location")
regr = acme.update_registration(
    regr, regr.body.update(contact=("mailto:owner@example.org",)))
assert regr.body.contact == ("mailto:owner@example.org",), regr.body
ok("account update: contact")
r = post(net, regr.uri, None)
account = r.json()
assert account["status"] == "valid" and account["contact"] == ["mailto:owner@example.org"], account
ok("account POST-as-GET")

# --- badNonce (§6.5): the library retries by itself, so send one request by hand -------------
net._nonces.clear()  # pylint: disable=protected-access
net._nonces.add(b"not-a-nonce")  # pylint: disable=protected-access
p = problem(net._post_once, regr.uri, None)  # pylint: disable=protected-access
assert p.typ == ERR + "badNonce", p
ok("a stale nonce: badNonce")

# --- newOrder refusals (§7.4, §6.7.1 subproblems) --------------------------------------------
csr_key = pem_key()
p = problem(acme.new_order, crypto_util.make_csr(csr_key, [f"{DEVICE}.{DOMAIN}"]))
assert p.typ == ERR + "rejectedIdentifier", p
named = [s.identifier.value for s in p.subproblems]
assert named == [f"{DEVICE}.local"], p
assert all(s.typ == ERR + "rejectedIdentifier" for s in p.subproblems), p
ok(f"an order that could never be finalized: rejectedIdentifier naming {named}")
p = problem(acme.new_order, crypto_util.make_csr(csr_key, NAMES + [f"{DEVICE}.example.com"]))
assert p.typ == ERR + "rejectedIdentifier", p
assert [s.identifier.value for s in p.subproblems] == [f"{DEVICE}.example.com"], p
ok("a public name: rejectedIdentifier naming it")

# --- newOrder, authz (§7.5), orderNotReady, http-01 (§8.3) ------------------------------------
csr = crypto_util.make_csr(csr_key, NAMES)
orderr = acme.new_order(csr)
assert name(orderr.body.status) == "pending", orderr.body
assert sorted(a.body.identifier.value for a in orderr.authorizations) == sorted(NAMES)
ok("newOrder 201 with its authorizations")
p = problem(post, net, orderr.body.finalize,
            messages.CertificateRequest(csr=jose.ComparableX509(
                OpenSSL.crypto.load_certificate_request(OpenSSL.crypto.FILETYPE_PEM, csr))))
assert p.typ == ERR + "orderNotReady", p
ok("finalize before validation: orderNotReady")
orders = post(net, account["orders"], None).json()["orders"]
assert orderr.uri in orders, (orderr.uri, orders)
ok("account orders list")
for authzr in orderr.authorizations:
    authzr, _ = acme.poll(authzr)
    challb = next(c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01))
    response, validation = challb.chall.response_and_validation(key)
    TOKENS[challb.chall.path] = validation.encode()
    challr = acme.answer_challenge(challb, response)
    assert name(challr.body.status) in ("processing", "valid"), challr.body
ok("http-01 answered for every authorization")
print("WAITING for approval", flush=True)
deadline = datetime.datetime.now() + datetime.timedelta(seconds=90)
orderr = acme.poll_authorizations(orderr, deadline)
assert all(name(a.body.status) == "valid" for a in orderr.authorizations), orderr.authorizations
ok("authorizations valid after approval")

# --- finalize (§7.4): badCSR, then the certificate with its alternates (§7.4.2) ---------------
bad_csr = crypto_util.make_csr(pem_key(), [f"{DEVICE}.local"])
p = problem(post, net, orderr.body.finalize,
            messages.CertificateRequest(csr=jose.ComparableX509(
                OpenSSL.crypto.load_certificate_request(OpenSSL.crypto.FILETYPE_PEM, bad_csr))))
assert p.typ == ERR + "badCSR", p
ok("finalize with other names: badCSR")
orderr = acme.finalize_order(orderr, deadline, fetch_alternative_chains=True)
assert name(orderr.body.status) == "valid", orderr.body
chain = orderr.fullchain_pem
assert chain.count("BEGIN CERTIFICATE") == 2, chain
leaf = OpenSSL.crypto.load_certificate(OpenSSL.crypto.FILETYPE_PEM, chain.encode())
sans = str(leaf.to_cryptography().extensions.get_extension_for_oid(
    __import__("cryptography").x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value)
assert all(n in sans for n in NAMES), sans
r = post(net, orderr.body.certificate, None)
alternates = r.links.get("alternate")
assert orderr.alternative_fullchains_pem == ([] if alternates is None else orderr.alternative_fullchains_pem)
ok(f"certificate downloaded ({len(orderr.alternative_fullchains_pem)} alternate chains)")
with open("python-acme-chain.pem", "w", encoding="ascii") as f:
    f.write(chain)

# --- authorization deactivation (§7.5.2) -----------------------------------------------------
second = acme.new_order(csr)
authzr = acme.deactivate_authorization(second.authorizations[0])
assert name(authzr.body.status) == "deactivated", authzr.body
ok("authorization deactivated")

# --- revokeCert (§7.6) ------------------------------------------------------------------------
acme.revoke(jose.ComparableX509(leaf), 4)
ok("revokeCert")
p = problem(acme.revoke, jose.ComparableX509(leaf), 4)
assert p.typ == ERR + "alreadyRevoked", p
ok("revoking again: alreadyRevoked")

# --- keyChange (§7.3.5) -----------------------------------------------------------------------
new = new_key()
# The inner JWS: signed by the new key, with its jwk and the url, no nonce (§7.3.5).
inner = acme_jws.JWS.sign(
    json.dumps({"account": regr.uri, "oldKey": key.public_key().to_partial_json()}).encode(),
    key=new, alg=jose.ES384, nonce=None, url=d["keyChange"])
assert inner.signature.combined.nonce is None, inner.signature.combined
r = post(net, d["keyChange"], inner)
assert r.status_code == 200, r.status_code
net2, acme2 = connect(new, account=regr)
r = post(net2, regr.uri, None)
assert r.json()["status"] == "valid", r.json()
old_net, old_acme = connect(key)
p = problem(old_acme.new_account, messages.NewRegistration(only_return_existing=True))
assert p.typ == ERR + "accountDoesNotExist", p
ok("keyChange: the new key signs for the account, the old one is unknown")

# --- account deactivation (§7.3.6) ------------------------------------------------------------
regr = acme2.deactivate_registration(regr)
assert name(regr.body.status) == "deactivated", regr.body
p = problem(post, net2, regr.uri, None)
assert p.typ == ERR + "unauthorized", p
ok("account deactivated; its key is refused after")
responder.shutdown()
print("DONE", flush=True)
