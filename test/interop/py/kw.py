"""Shared helpers for keywarden's PyKMIP interop scripts.

Each script gets one JSON argument (host, port, ca, client cert/key paths and
script-specific fields), runs many steps on few connections (PyKMIP startup
costs a few hundred milliseconds), and prints one JSON object as its last
stdout line. Steps never print key material: only lengths and SHA-256 digests.
Lines starting with {"event" before that are events the jest side may answer
on stdin (used to remove a certificate between two steps).
"""

import hashlib
import json
import logging
import os
import sys
import traceback

from kmip.core import enums
from kmip.core import exceptions as core_exceptions
from kmip.core import objects as cobjects
from kmip.core import primitives
from kmip.core import utils
from kmip.core.factories.payloads import response as response_factory
from kmip.core.messages import contents, messages, payloads
from kmip.pie import client as pie_client
from kmip.pie import exceptions as pie_exceptions

# PyKMIP logs failures at ERROR on its own loggers; the JSON result carries them.
logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr)

VERSIONS = {
    "1.0": enums.KMIPVersion.KMIP_1_0,
    "1.1": enums.KMIPVersion.KMIP_1_1,
    "1.2": enums.KMIPVersion.KMIP_1_2,
    "1.3": enums.KMIPVersion.KMIP_1_3,
    "1.4": enums.KMIPVersion.KMIP_1_4,
    "2.0": enums.KMIPVersion.KMIP_2_0,
}


def config():
    return json.loads(sys.argv[1])


def _empty_config_file():
    # An explicit, empty PyKMIP config file: no ~/.pykmip/pykmip.conf or
    # /etc/pykmip/pykmip.conf of the machine changes what the client does,
    # and PyKMIP does not warn that it found none.
    path = os.path.join(os.getcwd(), "pykmip-empty.conf")
    if not os.path.exists(path):
        with open(path, "w"):
            pass
    return path


def client(cfg, identity, version=None):
    """An opened ProxyKmipClient for identity {"cert", "key"}; version "1.1" etc. or None for PyKMIP's default."""
    c = pie_client.ProxyKmipClient(
        hostname=cfg["host"],
        port=cfg["port"],
        cert=identity["cert"],
        key=identity["key"],
        ca=cfg["ca"],
        config_file=_empty_config_file(),
        kmip_version=VERSIONS[version] if version else None,
    )
    c.open()
    return c


def digest(b):
    return hashlib.sha256(bytes(b)).hexdigest()


def enum_name(v):
    if v is None:
        return None
    if hasattr(v, "value") and not isinstance(v, enums.enum.Enum):
        v = v.value
    return v.name if isinstance(v, enums.enum.Enum) else v


def failure(e):
    """A JSON-able description of an exception raised by a step."""
    if isinstance(e, (pie_exceptions.KmipOperationFailure, core_exceptions.OperationFailure)):
        return {
            "ok": False,
            "status": enum_name(e.status),
            "reason": enum_name(e.reason),
            "message": e.message if hasattr(e, "message") else str(e),
        }
    return {"ok": False, "error": type(e).__name__, "message": str(e), "trace": traceback.format_exc().splitlines()[-4:]}


class Steps:
    """Runs named steps, recording {"ok": True, "value": ...} or a failure for each."""

    def __init__(self):
        self.results = {}

    def run(self, name, fn):
        try:
            value = fn()
        except Exception as e:  # noqa: BLE001 - every failure is a result
            self.results[name] = failure(e)
            return None
        self.results[name] = {"ok": True, "value": value}
        return value

    def event(self, name, **fields):
        """Prints an event line and waits for one line on stdin (the go-ahead)."""
        print(json.dumps(dict(event=name, **fields)), flush=True)
        return sys.stdin.readline().strip()

    def finish(self, **extra):
        out = dict(steps=self.results, **extra)
        print(json.dumps(out, default=str), flush=True)


# --- Lower-level requests (PyKMIP's KMIPProxy and kmip.core objects) --------


def batch_item(operation, payload, batch_id=None):
    return messages.RequestBatchItem(
        operation=contents.Operation(operation),
        unique_batch_item_id=contents.UniqueBatchItemID(batch_id) if batch_id is not None else None,
        request_payload=payload,
    )


def send_batch(c, items, option=None):
    """Sends one request message with these batch items on the client's connection; returns the ResponseMessage."""
    proxy = c.proxy
    header = messages.RequestHeader(
        protocol_version=proxy._build_protocol_version(),
        batch_error_cont_option=contents.BatchErrorContinuationOption(option) if option is not None else None,
        batch_count=contents.BatchCount(len(items)),
    )
    request = messages.RequestMessage(request_header=header, batch_items=items)
    return proxy._send_and_receive_message(request)


def item_result(item):
    """A JSON-able view of one response batch item."""
    r = {
        "operation": enum_name(item.operation) if item.operation is not None else None,
        "batchId": item.unique_batch_item_id.value.hex() if item.unique_batch_item_id is not None else None,
        "status": enum_name(item.result_status),
    }
    if item.result_reason is not None:
        r["reason"] = enum_name(item.result_reason)
    if item.result_message is not None:
        r["message"] = item.result_message.value
    return r


def attribute(name, value):
    """A KMIP 1.x Attribute with a Text String value (custom x- attributes)."""
    return cobjects.Attribute(
        attribute_name=cobjects.Attribute.AttributeName(name),
        attribute_value=primitives.TextString(value, enums.Tags.ATTRIBUTE_VALUE),
    )


def attributes_json(attrs):
    """PyKMIP Attribute objects as [name, index, value] triples (values as JSON-able Python)."""
    out = []
    for a in attrs or []:
        v = a.attribute_value
        value = v.name_value.value if hasattr(v, "name_value") else getattr(v, "value", v)
        if isinstance(value, enums.enum.Enum):
            value = value.name
        elif isinstance(value, (bytes, bytearray)):
            value = {"len": len(value), "sha256": digest(value)}
        elif not isinstance(value, (str, int, float, bool, type(None))):
            value = repr(value)
        index = a.attribute_index.value if a.attribute_index is not None else None
        out.append([a.attribute_name.value, index, value])
    return out


# --- Add Attribute: PyKMIP 0.10 has no payload classes for it ----------------
# (its request and response payload factories raise NotImplementedError for
# ADD_ATTRIBUTE), so the suite supplies them, built from kmip.core objects, and
# registers the response payload with PyKMIP's factory so ResponseMessage.read
# can parse Add Attribute answers.


class RawStruct(primitives.Struct):
    """A structure written from a list of already-built items (for what PyKMIP has no class)."""

    def __init__(self, tag, items):
        super().__init__(tag)
        self.items = items

    def write(self, ostream, kmip_version=enums.KMIPVersion.KMIP_1_0):
        local = utils.BytearrayStream()
        for item in self.items:
            item.write(local, kmip_version=kmip_version)
        self.length = local.length()
        super().write(ostream, kmip_version=kmip_version)
        ostream.write(local.buffer)


class AddAttributeRequestPayload(payloads.RequestPayload):
    """KMIP 1.x: Unique Identifier (optional) and Attribute. KMIP 2.0: Unique Identifier and New Attribute."""

    def __init__(self, unique_identifier=None, attribute=None):
        super().__init__()
        self.unique_identifier = unique_identifier
        self.attribute = attribute

    def write(self, ostream, kmip_version=enums.KMIPVersion.KMIP_1_0):
        local = utils.BytearrayStream()
        if self.unique_identifier is not None:
            primitives.TextString(self.unique_identifier, enums.Tags.UNIQUE_IDENTIFIER).write(local, kmip_version=kmip_version)
        if kmip_version < enums.KMIPVersion.KMIP_2_0:
            self.attribute.write(local, kmip_version=kmip_version)
        else:
            v2_new_attribute(self.attribute).write(local, kmip_version=kmip_version)
        self.length = local.length()
        super().write(ostream, kmip_version=kmip_version)
        ostream.write(local.buffer)


def v2_new_attribute(attr):
    """A 1.x-style Attribute as KMIP 2.0's New Attribute.

    A standard attribute is its value under the attribute's own tag. KMIP 2.0
    has no x- names: a custom attribute is an Attribute structure {Vendor
    Identification, Attribute Name, Attribute Value} ("x-Foo" is vendor "x",
    name "Foo"); PyKMIP 0.10 has no class for it, so it is written field by field.
    """
    name = attr.attribute_name.value
    value = attr.attribute_value
    if name[:2] not in ("x-", "y-"):
        value.tag = enums.convert_attribute_name_to_tag(name)
        return RawStruct(enums.Tags.NEW_ATTRIBUTE, [value])
    vendor, _, short = name.partition("-")
    value.tag = enums.Tags.ATTRIBUTE_VALUE
    return RawStruct(enums.Tags.NEW_ATTRIBUTE, [
        RawStruct(enums.Tags.ATTRIBUTE, [
            primitives.TextString(vendor, enums.Tags.VENDOR_IDENTIFICATION),
            primitives.TextString(short, enums.Tags.ATTRIBUTE_NAME),
            value,
        ]),
    ])


class AddAttributeResponsePayload(payloads.ResponsePayload):
    def __init__(self):
        super().__init__()
        self.unique_identifier = None
        self.attribute = None

    def read(self, istream, kmip_version=enums.KMIPVersion.KMIP_1_0):
        super().read(istream, kmip_version=kmip_version)
        local = utils.BytearrayStream(istream.read(self.length))
        uid = primitives.TextString(tag=enums.Tags.UNIQUE_IDENTIFIER)
        uid.read(local, kmip_version=kmip_version)
        self.unique_identifier = uid.value
        if kmip_version < enums.KMIPVersion.KMIP_2_0 and self.is_tag_next(enums.Tags.ATTRIBUTE, local):
            self.attribute = cobjects.Attribute()
            self.attribute.read(local, kmip_version=kmip_version)
        self.is_oversized(local)


response_factory.ResponsePayloadFactory._create_add_attribute_payload = lambda self: AddAttributeResponsePayload()


def add_attribute_item(uid, attr, batch_id=None):
    return batch_item(enums.Operation.ADD_ATTRIBUTE, AddAttributeRequestPayload(uid, attr), batch_id)


def add_attribute(c, uid, attr):
    """One Add Attribute request for a PyKMIP Attribute; returns the uid and the attribute the server echoed (1.x) as JSON."""
    r = send_batch(c, [add_attribute_item(uid, attr)])
    item = r.batch_items[0]
    if item.result_status.value != enums.ResultStatus.SUCCESS:
        raise core_exceptions.OperationFailure(item.result_status.value, item.result_reason.value, item.result_message.value)
    p = item.response_payload
    return {"uid": p.unique_identifier, "attribute": attributes_json([p.attribute]) if p.attribute is not None else None}


__all__ = [
    "VERSIONS", "config", "client", "digest", "enum_name", "failure", "Steps", "batch_item", "send_batch",
    "item_result", "attribute", "attributes_json", "add_attribute", "add_attribute_item", "AddAttributeRequestPayload", "RawStruct", "v2_new_attribute", "utils", "enums", "cobjects", "primitives", "contents", "messages",
]
