"""Every operation keywarden's gateway serves, through PyKMIP's ProxyKmipClient
(and its KMIPProxy or kmip.core objects where the pie client has no method or
cannot read the answer), in one KMIP protocol version: config "version" is
"1.0" ... "1.4", "2.0", or null for PyKMIP's default (1.2). One connection for
the whole run; the tenant is fresh, so Locate sees this run's objects only.

Config: host, port, ca, client {cert, key}, version, prefix (used in names).
"""

import os

from kw import (
    Steps, add_attribute, attribute, attributes_json, batch_item, client, cobjects, config, contents, digest, enum_name,
    enums, item_result, send_batch,
)
from kmip.core.factories import attributes as attribute_factories
from kmip.core.messages import payloads
from kmip.pie import objects as pobjects

cfg = config()
version = cfg.get("version")
prefix = cfg["prefix"]
v2 = version == "2.0"
steps = Steps()
factory = attribute_factories.AttributeFactory()
MISSING = "00000000-0000-0000-0000-000000000000"

c = client(cfg, cfg["client"], version)
steps.results["clientVersion"] = {"ok": True, "value": c.kmip_version.value}
steps.results["tls"] = {"ok": True, "value": [c.proxy.socket.version(), c.proxy.socket.cipher()[0]]}


def names(*parts):
    return "-".join((prefix,) + parts)


def key_view(obj):
    """What a Get returned, without the key bytes."""
    out = {"objectType": enum_name(obj.object_type), "len": len(obj.value), "sha256": digest(obj.value)}
    for a in ("cryptographic_algorithm", "cryptographic_length", "key_format_type", "data_type"):
        v = getattr(obj, a, None)
        if v is not None:
            out[a] = enum_name(v)
    return out


def get_attributes(uid, wanted=None):
    got_uid, attrs = c.get_attributes(uid, wanted)
    return {"uid": got_uid, "attributes": attributes_json(attrs)}


def get_all_attributes(uid):
    """Get Attributes with no names. PyKMIP 0.10 cannot decode Original Creation Date (KMIP 1.2+)."""
    try:
        return get_attributes(uid)
    except ValueError as e:
        if "ORIGINAL_CREATION_DATE" not in str(e):
            raise
        return {"pykmipCannotDecode": "Original Creation Date"}


def locate(*attrs, **kw):
    return c.locate(attributes=list(attrs) or None, **kw)


def name_attr(value):
    return factory.create_attribute(enums.AttributeType.NAME, value)


def name_value(value):
    """A Name as KMIP 2.0 carries it in Current/New Attribute (under its own tag)."""
    return factory.value_factory.create_attribute_value(enums.AttributeType.NAME, value)


def state_attr(value):
    return factory.create_attribute(enums.AttributeType.STATE, value)


def type_attr(value):
    return factory.create_attribute(enums.AttributeType.OBJECT_TYPE, value)


def raw(operation, payload):
    """One batch item built from kmip.core objects; the item's result, its payload or None."""
    item = send_batch(c, [batch_item(operation, payload)]).batch_items[0]
    return item_result(item), item.response_payload


def discover_versions(offered=None):
    # Lower level: KMIPProxy.discover_versions raises AttributeError on a failed item.
    out, p = raw(enums.Operation.DISCOVER_VERSIONS, payloads.DiscoverVersionsRequestPayload(offered))
    if p is not None:
        out["versions"] = [[v.major, v.minor] for v in p.protocol_versions]
    return out


def query():
    q = c.proxy.query(query_functions=[
        enums.QueryFunction.QUERY_OPERATIONS, enums.QueryFunction.QUERY_OBJECTS,
        enums.QueryFunction.QUERY_SERVER_INFORMATION,
    ])
    if q.result_status.value != enums.ResultStatus.SUCCESS:
        raise RuntimeError("query failed: {} {}".format(enum_name(q.result_reason), q.result_message))
    return {
        "operations": sorted(enum_name(o) for o in q.operations),
        "objectTypes": sorted(enum_name(o) for o in q.object_types),
        # PyKMIP's QueryResult holds the Vendor Identification as a plain str.
        "vendor": q.vendor_identification,
    }


def raw_check(uid, mask=None):
    """Check from kmip.core objects: ProxyKmipClient.check raises AttributeError on any failed
    Check (it reads the absent response payload) and TypeError when given no usage mask."""
    out, p = raw(enums.Operation.CHECK, payloads.CheckRequestPayload(
        unique_identifier=uid, cryptographic_usage_mask=mask.value if mask is not None else None,
    ))
    if p is not None:
        out["uid"] = p.unique_identifier
    return out


# --- discovery --------------------------------------------------------------
steps.run("discoverVersions", discover_versions)
steps.run("discoverVersions11", lambda: discover_versions([contents.ProtocolVersion(1, 1), contents.ProtocolVersion(9, 9)]))
steps.run("query", query)

# --- Create, Register, Get --------------------------------------------------
aes256 = steps.run("create256", lambda: c.create(enums.CryptographicAlgorithm.AES, 256, name=names("aes256")))
# PyKMIP always adds Encrypt|Decrypt to the masks given: this key's mask is 60.
aes128 = steps.run("create128", lambda: c.create(
    enums.CryptographicAlgorithm.AES, 128, name=names("aes128"),
    cryptographic_usage_mask=[enums.CryptographicUsageMask.WRAP_KEY, enums.CryptographicUsageMask.UNWRAP_KEY],
))
steps.run("get256", lambda: key_view(c.get(aes256)))
steps.run("get128", lambda: key_view(c.get(aes128)))

sym_bytes = os.urandom(32)
secret_bytes = os.urandom(24)
steps.results["registeredDigests"] = {"ok": True, "value": {"symmetric": digest(sym_bytes), "secret": digest(secret_bytes)}}
sym = steps.run("registerSymmetric", lambda: c.register(pobjects.SymmetricKey(
    enums.CryptographicAlgorithm.AES, 256, sym_bytes,
    masks=[enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT], name=names("registered"),
)))
secret = steps.run("registerSecret", lambda: c.register(pobjects.SecretData(
    secret_bytes, enums.SecretDataType.PASSWORD, masks=[enums.CryptographicUsageMask.DERIVE_KEY], name=names("secret"),
)))
# PyKMIP's pie objects carry a default Name ("Symmetric Key", "Secret Data"),
# and names are unique within a tenant: a second unnamed Register collides.
steps.run("registerUnnamed", lambda: c.register(pobjects.SymmetricKey(enums.CryptographicAlgorithm.AES, 128, os.urandom(16))))
steps.run("registerUnnamedAgain", lambda: c.register(pobjects.SymmetricKey(enums.CryptographicAlgorithm.AES, 128, os.urandom(16))))
steps.run("getSymmetric", lambda: key_view(c.get(sym)))
steps.run("getSecret", lambda: key_view(c.get(secret)))
steps.run("getMissing", lambda: key_view(c.get(MISSING)))

# --- attributes -------------------------------------------------------------
steps.run("getAttributesNamed", lambda: get_attributes(aes256, [
    "Cryptographic Algorithm", "Cryptographic Length", "Cryptographic Usage Mask", "State", "Object Type", "Name",
]))
steps.run("getAttributesSecret", lambda: get_attributes(secret, ["Object Type", "Cryptographic Usage Mask", "State"]))
steps.run("getAttributesAll", lambda: get_all_attributes(aes128))
steps.run("getAttributeList", lambda: c.get_attribute_list(aes256))
steps.run("addAttribute", lambda: add_attribute(c, aes256, attribute("x-Owner", "ops")))
steps.run("addAttributeSecond", lambda: add_attribute(c, aes256, attribute("x-Owner", "security")))
steps.run("addName", lambda: add_attribute(c, aes256, name_attr(names("alias"))))
steps.run("getAttributeListAfterAdd", lambda: c.get_attribute_list(aes256))
if v2:
    # PyKMIP 0.10 cannot name a custom attribute in KMIP 2.0 Get Attributes,
    # Modify or Delete Attribute: it only knows standard attribute tags. The
    # 2.0 edits use the multi-instance Name instead; the instance is the one
    # Current Attribute names, not the first.
    steps.run("modifyAttribute", lambda: c.modify_attribute(
        aes256,
        current_attribute=cobjects.CurrentAttribute(attribute=name_value(names("alias"))),
        new_attribute=cobjects.NewAttribute(attribute=name_value(names("alias", "renamed"))),
    )[0])
    steps.run("namesAfterModify", lambda: get_attributes(aes256, ["Name"]))
    steps.run("deleteAttribute", lambda: c.delete_attribute(
        aes256, current_attribute=cobjects.CurrentAttribute(attribute=name_value(names("alias", "renamed"))),
    )[0])
    steps.run("namesAfterDelete", lambda: get_attributes(aes256, ["Name"]))
    steps.run("modifyMissingAttribute", lambda: c.modify_attribute(
        aes256,
        current_attribute=cobjects.CurrentAttribute(attribute=name_value(names("no-such-name"))),
        new_attribute=cobjects.NewAttribute(attribute=name_value("nothing")),
    ))
else:
    steps.run("getAttributesCustom", lambda: get_attributes(aes256, ["x-Owner"]))
    steps.run("modifyAttribute", lambda: attributes_json([c.modify_attribute(
        aes256, attribute=cobjects.Attribute(
            attribute_name=cobjects.Attribute.AttributeName("x-Owner"),
            attribute_index=cobjects.Attribute.AttributeIndex(1),
            attribute_value=attribute("x-Owner", "platform").attribute_value,
        ),
    )[1]]))
    steps.run("deleteAttribute", lambda: attributes_json([c.delete_attribute(aes256, attribute_name="x-Owner", attribute_index=0)[1]]))
    steps.run("deleteName", lambda: attributes_json([c.delete_attribute(aes256, attribute_name="Name", attribute_index=1)[1]]))
    steps.run("attributesAfterEdit", lambda: get_attributes(aes256, ["x-Owner", "Name"]))
    steps.run("modifyMissingAttribute", lambda: c.modify_attribute(aes256, attribute=attribute("x-Nothing", "v")))

# --- Locate -----------------------------------------------------------------
steps.run("locateByName", lambda: locate(name_attr(names("aes128"))))
steps.run("locateByNameMissing", lambda: locate(name_attr(names("nobody"))))
steps.run("locateSecretData", lambda: locate(type_attr(enums.ObjectType.SECRET_DATA)))
steps.run("locateSymmetric", lambda: locate(type_attr(enums.ObjectType.SYMMETRIC_KEY)))
steps.run("locatePreActive", lambda: locate(state_attr(enums.State.PRE_ACTIVE)))
steps.run("locateMax2", lambda: locate(type_attr(enums.ObjectType.SYMMETRIC_KEY), maximum_items=2))
steps.run("locateOffset1", lambda: locate(type_attr(enums.ObjectType.SYMMETRIC_KEY), maximum_items=2, offset_items=1))

# --- the state machine, Check ------------------------------------------------
steps.run("checkPreActive", lambda: raw_check(aes128, enums.CryptographicUsageMask.WRAP_KEY))
steps.run("activate", lambda: c.activate(aes128))
steps.run("activateAgain", lambda: c.activate(aes128))
steps.run("stateActive", lambda: get_attributes(aes128, ["State", "Activation Date"]))
steps.run("locateActive", lambda: locate(state_attr(enums.State.ACTIVE)))
steps.run("check", lambda: c.check(aes128, cryptographic_usage_mask=[enums.CryptographicUsageMask.WRAP_KEY]))
steps.run("checkNoMask", lambda: raw_check(aes128))
steps.run("checkWrongUsage", lambda: raw_check(aes128, enums.CryptographicUsageMask.SIGN))
steps.run("checkMissing", lambda: raw_check(MISSING))
steps.run("destroyActive", lambda: c.destroy(aes128))
steps.run("revoke", lambda: c.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, aes128, revocation_message="interop"))
steps.run("stateDeactivated", lambda: get_attributes(aes128, ["State"]))
steps.run("getDeactivated", lambda: key_view(c.get(aes128)))
steps.run("destroy", lambda: c.destroy(aes128))
steps.run("stateDestroyed", lambda: get_attributes(aes128, ["State"]))
steps.run("getDestroyed", lambda: key_view(c.get(aes128)))
steps.run("destroyAgain", lambda: c.destroy(aes128))
steps.run("destroyPreActive", lambda: c.destroy(secret))
steps.run("revokeCompromise", lambda: c.revoke(enums.RevocationReasonCode.KEY_COMPROMISE, sym, compromise_occurrence_date=1700000000))
steps.run("stateCompromised", lambda: get_attributes(sym, ["State"]))
steps.run("locateAfter", lambda: locate())

c.close()
steps.finish(uids={"aes256": aes256, "aes128": aes128, "symmetric": sym, "secret": secret, "unnamed": steps.results["registerUnnamed"].get("value")})
