"""A client certificate with a password, as vCenter uses one when given a
username and password for its KMS: PyKMIP's ProxyKmipClient with `username`
and `password` sends a Credential of type Username and Password in every
request header.

Config: host, port, ca, vc {cert, key} (a certificate whose password the jest
side has set), password, newPassword, version. Steps: the right password with
any username is served (Create, Get, Activate on one connection); a wrong or
missing one, or a Device credential carrying the right password, gets
Authentication Not Successful. Then an event "change": the jest side sets
newPassword; the open connection must be closed by the server, the old
password refused, the new one served. Then an event "clear": the jest side
clears the password; a client without credentials is served.
Passwords are never printed: only the steps' outcomes.
"""

import select
import ssl
import time

from kw import Steps, _empty_config_file, config, enums, failure
from kmip.core.factories.credentials import CredentialFactory
from kmip.pie import client as pie_client

cfg = config()
version = cfg.get("version")
steps = Steps()
VERSIONS = {"1.1": enums.KMIPVersion.KMIP_1_1, "1.4": enums.KMIPVersion.KMIP_1_4, "2.0": enums.KMIPVersion.KMIP_2_0}


def client(username=None, password=None):
    """An opened ProxyKmipClient of the vCenter certificate, with these credentials (none when both are None)."""
    c = pie_client.ProxyKmipClient(
        hostname=cfg["host"],
        port=cfg["port"],
        cert=cfg["vc"]["cert"],
        key=cfg["vc"]["key"],
        ca=cfg["ca"],
        username=username,
        password=password,
        config_file=_empty_config_file(),
        kmip_version=VERSIONS[version] if version else None,
    )
    c.open()
    return c


def attempt(fn):
    """The failure a call ends in, or {"ok": True, "value": ...}."""
    try:
        return {"ok": True, "value": fn()}
    except Exception as e:  # noqa: BLE001
        return failure(e)


def once(username, password, fn):
    """fn on a connection of its own with these credentials."""
    c = client(username, password)
    try:
        return attempt(lambda: fn(c))
    finally:
        try:
            c.close()
        except Exception:  # noqa: BLE001 - the server may have closed it
            pass


def create(c):
    return c.create(enums.CryptographicAlgorithm.AES, 256)


def device_credential(c):
    """Get with a Device credential that carries the right password: the answer's result."""
    credential = CredentialFactory().create_credential(
        enums.CredentialType.DEVICE,
        {"Device Serial Number": "esxi-01", "Password": cfg["password"], "Device Identifier": "esxi"},
    )
    # KMIPProxy.get takes a credential and returns the result (PyKMIP's Discover Versions cannot read a failure).
    r = c.proxy.get(uid, credential=credential)
    return {
        "status": r.result_status.value.name,
        "reason": r.result_reason.value.name if r.result_reason is not None else None,
        "message": r.result_message.value if r.result_message is not None else None,
    }


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


# --- the right password (username not checked), on one connection ------------
vc = client("administrator@vsphere.local", cfg["password"])
uid = steps.run("create", lambda: create(vc))
steps.run("get", lambda: len(vc.get(uid).value))
steps.run("activate", lambda: vc.activate(uid))
steps.run("state", lambda: [a.attribute_value.value.name for a in vc.get_attributes(uid, ["State"])[1]])
steps.run("otherUsername", lambda: once("someone else entirely", cfg["password"], lambda c: len(c.get(uid).value)))

# --- refused -------------------------------------------------------------------
steps.run("wrongPassword", lambda: once("administrator@vsphere.local", "not the password at all", create))
steps.run("noCredential", lambda: once(None, None, create))
steps.run("deviceCredential", lambda: once(None, None, device_credential))
steps.run("stillServed", lambda: len(vc.get(uid).value))

# --- the password changed while connected ------------------------------------
steps.event("change")
steps.run("openConnectionClosed", lambda: wait_closed(vc.proxy.socket))
try:
    vc.close()
except Exception:  # noqa: BLE001 - the server closed it
    pass
steps.run("oldPassword", lambda: once("administrator@vsphere.local", cfg["password"], lambda c: len(c.get(uid).value)))
steps.run("newPassword", lambda: once("administrator@vsphere.local", cfg["newPassword"], lambda c: len(c.get(uid).value)))

# --- the password cleared ------------------------------------------------------
steps.event("clear")
steps.run("clearedNoCredential", lambda: once(None, None, lambda c: len(c.get(uid).value)))
steps.run("clearedAnyCredential", lambda: once("u", "whatever it is", lambda c: len(c.get(uid).value)))

steps.finish(uid=uid)
