"""Who may do what: tenant isolation, an unregistered certificate, and a
certificate removed while its connection is open.

Config: host, port, ca, owner, other, stranger, removed, selfsigned (each {cert, key}),
version. The owner creates a key; the other tenant's certificate must not see
it in any way (Item Not Found with the same message as a missing uid, absent
from Locate). The stranger's certificate is refused with Permission Denied
naming its fingerprint. For "removed", the script prints an event after its
first successful request and waits on stdin while the jest side removes the
certificate; then the open connection must be gone and a new one refused.
"""

import hashlib
import select
import ssl
import time

from kw import Steps, add_attribute, attribute, client, config, enums, failure
from kmip.core.factories import attributes as attribute_factories

cfg = config()
version = cfg.get("version")
steps = Steps()
factory = attribute_factories.AttributeFactory()
MISSING = "11111111-2222-3333-4444-555555555555"


def fingerprint(identity):
    with open(identity["cert"]) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def attempt(fn):
    """The failure a call ends in, or {"ok": True}."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return failure(e)
    return {"ok": True}


def pair(fn):
    """The same call on the owner's uid and on a uid that exists nowhere, from the other tenant."""
    return {"foreign": attempt(lambda: fn(uid)), "missing": attempt(lambda: fn(MISSING))}


owner = client(cfg, cfg["owner"], version)
uid = steps.run("ownerCreate", lambda: owner.create(enums.CryptographicAlgorithm.AES, 256, name="isolation-" + cfg["tag"]))
steps.run("ownerGet", lambda: len(owner.get(uid).value))

other = client(cfg, cfg["other"], version)
steps.run("otherCreate", lambda: other.create(enums.CryptographicAlgorithm.AES, 128))
steps.run("get", lambda: pair(lambda u: other.get(u)))
steps.run("getAttributes", lambda: pair(lambda u: other.get_attributes(u, ["State"])))
steps.run("getAttributeList", lambda: pair(lambda u: other.get_attribute_list(u)))
steps.run("addAttribute", lambda: pair(lambda u: add_attribute(other, u, attribute("x-Name", "stolen"))))
steps.run("activate", lambda: pair(lambda u: other.activate(u)))
steps.run("revoke", lambda: pair(lambda u: other.revoke(enums.RevocationReasonCode.KEY_COMPROMISE, u)))
steps.run("destroy", lambda: pair(lambda u: other.destroy(u)))
steps.run("otherLocateAll", lambda: other.locate())
steps.run("otherLocateByName", lambda: other.locate(attributes=[
    factory.create_attribute(enums.AttributeType.NAME, "isolation-" + cfg["tag"]),
]))
other.close()
# The owner's key is untouched by all of that.
steps.run("ownerStateAfter", lambda: [a.attribute_value.value.name for a in owner.get_attributes(uid, ["State"])[1]])
steps.run("ownerLocateAll", lambda: owner.locate())
owner.close()

# --- an unregistered certificate --------------------------------------------
steps.results["fingerprints"] = {"ok": True, "value": {
    "stranger": fingerprint(cfg["stranger"]), "removed": fingerprint(cfg["removed"]),
}}
# The gateway closes an unregistered certificate's connection right after its
# Permission Denied answer: each attempt on a connection of its own.


def as_stranger(fn):
    c = client(cfg, cfg["stranger"], version)
    try:
        return attempt(lambda: fn(c))
    finally:
        try:
            c.close()
        except Exception:  # noqa: BLE001 - the server closed it
            pass


steps.run("strangerCreate", lambda: as_stranger(lambda c: c.create(enums.CryptographicAlgorithm.AES, 256)))
steps.run("strangerGet", lambda: as_stranger(lambda c: c.get(uid)))
steps.run("strangerLocate", lambda: as_stranger(lambda c: c.locate()))

# --- a certificate removed while connected ----------------------------------
# vCenter's own kind of certificate: self-signed, CA:TRUE (openssl req -x509), pinned by its fingerprint.
selfsigned = client(cfg, cfg["selfsigned"], version)
ssuid = steps.run("selfSignedCreate", lambda: selfsigned.create(enums.CryptographicAlgorithm.AES, 256))
steps.run("selfSignedGet", lambda: len(selfsigned.get(ssuid).value))
selfsigned.close()

removed = client(cfg, cfg["removed"], version)
kept = steps.run("removedBefore", lambda: removed.create(enums.CryptographicAlgorithm.AES, 256))
steps.event("connected", fingerprint=fingerprint(cfg["removed"]))
# The jest side has removed the certificate. Without sending anything, the
# open connection must be closed by the server within a few seconds.


def wait_closed(sock, seconds=5.0):
    start = time.monotonic()
    readable, _, _ = select.select([sock], [], [], seconds)
    if not readable:
        return {"closedByServer": False}
    try:
        data = sock.recv(1)
    except (OSError, ssl.SSLError) as e:
        data = type(e).__name__
    return {"closedByServer": data in (b"",) or isinstance(data, str), "ms": round((time.monotonic() - start) * 1000)}


steps.run("removedOpenConnection", lambda: wait_closed(removed.proxy.socket))
steps.run("removedOpenConnectionUse", lambda: attempt(lambda: removed.get(kept)))
try:
    removed.close()
except Exception:  # noqa: BLE001 - the socket is already gone
    pass
again = client(cfg, cfg["removed"], version)
steps.run("removedNewConnection", lambda: attempt(lambda: again.get(kept)))
again.close()

steps.finish(uid=uid)
