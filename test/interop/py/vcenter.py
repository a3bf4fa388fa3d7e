"""The conversation vCenter has with a KMS for one new key (docs/vcenter.md),
played with PyKMIP's lower-level API in KMIP 1.1: every request carries an
8-byte Unique Batch Item ID ("QLKC" and a little-endian counter) that must
come back on its response item; the tagging is one request with three Add
Attribute batch items. Then an "ESXi host after a reboot" fetches the key on
a new connection, and a health check connects and closes without KMIP data.

Config: host, port, ca, client {cert, key}.
"""

import socket
import ssl
import struct

from kw import (
    Steps, add_attribute_item, attribute, attributes_json, batch_item, client, config, digest, enum_name, enums, item_result,
    send_batch,
)
from kmip.core import attributes as core_attributes
from kmip.core import objects as cobjects
from kmip.core.factories import attributes as attribute_factories
from kmip.core.messages import payloads
from kmip.pie import factory as pie_factory

cfg = config()
steps = Steps()
factory = attribute_factories.AttributeFactory()
objects = pie_factory.ObjectFactory()
counter = [0]


def next_id():
    """vCenter's Unique Batch Item ID: ASCII "QLKC" then a 32-bit little-endian counter."""
    counter[0] += 1
    return b"QLKC" + struct.pack("<I", counter[0])


def one(c, operation, payload, with_id=True):
    """One batch item in one request; returns (JSON view, response item)."""
    bid = next_id() if with_id else None
    r = send_batch(c, [batch_item(operation, payload, bid)])
    item = r.batch_items[0]
    view = item_result(item)
    view["count"] = len(r.batch_items)
    view["idEchoed"] = bid is None or (item.unique_batch_item_id is not None and item.unique_batch_item_id.value == bid)
    view["version"] = [r.response_header.protocol_version.major, r.response_header.protocol_version.minor]
    return view, item


def discover(c, with_id):
    view, item = one(c, enums.Operation.DISCOVER_VERSIONS, payloads.DiscoverVersionsRequestPayload(), with_id)
    view["versions"] = [[v.major, v.minor] for v in item.response_payload.protocol_versions]
    return view


def query_server_information(c):
    view, item = one(c, enums.Operation.QUERY, payloads.QueryRequestPayload([enums.QueryFunction.QUERY_SERVER_INFORMATION]))
    view["vendor"] = item.response_payload.vendor_identification
    return view


def create(c):
    """Create with exactly Cryptographic Algorithm AES, Usage Mask 12 (Encrypt|Decrypt), Length 256: no Name."""
    template = cobjects.TemplateAttribute(attributes=[
        factory.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM, enums.CryptographicAlgorithm.AES),
        factory.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK, [
            enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT,
        ]),
        factory.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 256),
    ])
    view, item = one(c, enums.Operation.CREATE, payloads.CreateRequestPayload(enums.ObjectType.SYMMETRIC_KEY, template))
    view["uid"] = item.response_payload.unique_identifier
    view["objectType"] = enum_name(item.response_payload.object_type)
    return view


def get_attributes(c, uid, name):
    """Get Attributes with a single Attribute Name, as vCenter asks."""
    view, item = one(c, enums.Operation.GET_ATTRIBUTES, payloads.GetAttributesRequestPayload(uid, [name]))
    if item.response_payload is not None:
        view["uid"] = item.response_payload.unique_identifier
        view["attributes"] = attributes_json(item.response_payload.attributes)
    return view


def tag(c, uid, values):
    """One request, three Add Attribute batch items (Text String values)."""
    ids = [next_id() for _ in values]
    r = send_batch(c, [add_attribute_item(uid, attribute(name, value), bid) for (name, value), bid in zip(values, ids)])
    out = []
    for bid, item in zip(ids, r.batch_items):
        view = item_result(item)
        view["idEchoed"] = item.unique_batch_item_id is not None and item.unique_batch_item_id.value == bid
        if item.response_payload is not None:
            view["uid"] = item.response_payload.unique_identifier
            view["attribute"] = attributes_json([item.response_payload.attribute]) if item.response_payload.attribute else None
        out.append(view)
    return {"requestItems": len(values), "responseItems": len(r.batch_items), "items": out}


def get(c, uid):
    """Get by Unique Identifier only: no Key Format Type."""
    view, item = one(c, enums.Operation.GET, payloads.GetRequestPayload(unique_identifier=uid))
    p = item.response_payload
    if p is not None:
        block = p.secret.key_block
        key = objects.convert(p.secret)
        view.update({
            "uid": p.unique_identifier,
            "objectType": enum_name(p.object_type),
            "keyFormatType": enum_name(block.key_format_type),
            "algorithm": enum_name(block.cryptographic_algorithm),
            "length": block.cryptographic_length.value,
            "bytes": len(key.value),
            "sha256": digest(key.value),
        })
    return view


def activate(c, uid):
    view, _ = one(c, enums.Operation.ACTIVATE, payloads.ActivateRequestPayload(core_attributes.UniqueIdentifier(uid)))
    return view


# --- health check: TLS completes, then close with no KMIP data ---------------
def health_check(vcenter_suite=False):
    ctx = ssl.create_default_context(cafile=cfg["ca"])
    ctx.check_hostname = False
    ctx.load_cert_chain(cfg["client"]["cert"], cfg["client"]["key"])
    if vcenter_suite:
        # What vCenter 7.0.3 was seen negotiating: TLS 1.2, TLS_RSA_WITH_AES_128_CBC_SHA256.
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("AES128-SHA256")
    with socket.create_connection((cfg["host"], cfg["port"]), timeout=10) as raw:
        with ctx.wrap_socket(raw) as tls:
            return [tls.version(), tls.cipher()[0]]


steps.run("healthCheckTls", health_check)
steps.run("healthCheckVcenterSuite", lambda: health_check(True))

c = client(cfg, cfg["client"], "1.1")
steps.run("discoverVersions", lambda: discover(c, False))
steps.run("discoverVersionsWithId", lambda: discover(c, True))
steps.run("queryServerInformation", lambda: query_server_information(c))
created = steps.run("create", lambda: create(c))
uid = created["uid"] if created else None
for name in ("x-Product_Version", "x-Vendor", "x-Product"):
    steps.run("absent " + name, lambda name=name: get_attributes(c, uid, name))
steps.run("tagProduct", lambda: tag(c, uid, [
    ("x-Product_Version", "7.0.3 build-19480866"), ("x-Vendor", "VMware, Inc."), ("x-Product", "VMware vSphere"),
]))
for name in ("x-Product_Version", "x-Vendor", "x-Product"):
    steps.run("present " + name, lambda name=name: get_attributes(c, uid, name))
steps.run("get", lambda: get(c, uid))
steps.run("statePreActive", lambda: get_attributes(c, uid, "State"))
steps.run("activate", lambda: activate(c, uid))
steps.run("stateActive", lambda: get_attributes(c, uid, "State"))
steps.run("tagVm", lambda: tag(c, uid, [
    ("x-Identifier", "564d7a1e-0c4b-2f43-8e7e-3d2bb1a9c001"), ("x-Component", "Virtual Machine"), ("x-Name", "vm-web-01"),
]))
for name in ("x-Identifier", "x-Component", "x-Name"):
    steps.run("present " + name, lambda name=name: get_attributes(c, uid, name))
# Not part of the conversation: what the server stored for the key.
steps.run("storedAttributes", lambda: attributes_json(c.get_attributes(uid, [
    "Cryptographic Algorithm", "Cryptographic Length", "Cryptographic Usage Mask", "Name", "x-Vendor", "x-Name",
])[1]))
steps.run("storedAttributeList", lambda: c.get_attribute_list(uid))
c.close()

# --- an ESXi host after a reboot: new connection, Discover Versions, Get by id
esxi = client(cfg, cfg["client"], "1.1")
steps.run("esxiDiscoverVersions", lambda: discover(esxi, True))
steps.run("esxiGet", lambda: get(esxi, uid))
esxi.close()

steps.finish(uid=uid)
