"""Cryptographic operations with keywarden's server-held keys, driven by PyKMIP
and checked with python-cryptography (independent of keywarden's node:crypto):
what keywarden encrypts, signs, MACs or derives, python-cryptography decrypts,
verifies or recomputes with the key material Get returns, and the other way
round. AES-GCM and AES-CBC, RSA-OAEP, RSA-PSS and PKCS#1 v1.5, ECDSA,
HMAC-SHA-256, RNG Retrieve, Derive Key (PBKDF2, NIST SP 800-108 counter mode),
and the refusals: a usage mask without the operation, a key that is not
Active, oversized data. One connection for the run.

PyKMIP 0.10 has no payloads for MAC Verify and RNG Retrieve, and its pie
client does not pass GCM's additional data and tag: this script supplies
those requests from kmip.core objects, as kw.py does for Add Attribute.

Config: host, port, ca, client {cert, key}, version, prefix.
"""

import hmac as py_hmac
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import hashes, padding as sym_padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils as asym_utils
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from kw import Steps, batch_item, client, config, enum_name, enums, item_result, primitives, send_batch, utils
from kmip.core import objects as cobjects
from kmip.core.factories.payloads import response as response_factory
from kmip.core.messages import payloads
from kmip.pie import objects as pobjects

cfg = config()
version = cfg.get("version")
prefix = cfg["prefix"]
steps = Steps()
backend = default_backend()
E = enums
M = E.CryptographicUsageMask
T = E.Tags

c = client(cfg, cfg["client"], version)
steps.results["clientVersion"] = {"ok": True, "value": c.kmip_version.value}


def n(*parts):
    return "-".join((prefix,) + parts)


def key_bytes(uid):
    return bytes(c.get(uid).value)


def params(**kw):
    return cobjects.CryptographicParameters(**kw)


def failed(item):
    r = item_result(item)
    if r["status"] != "SUCCESS":
        raise Exception("{}: {} {}".format(r["status"], r.get("reason"), r.get("message")))


# --- what PyKMIP lacks: MAC Verify, RNG Retrieve ---------------------------------

class MacVerifyRequestPayload(payloads.RequestPayload):
    def __init__(self, uid, data, mac_data):
        super().__init__()
        self.uid, self.data, self.mac_data = uid, data, mac_data

    def write(self, ostream, kmip_version=E.KMIPVersion.KMIP_1_0):
        local = utils.BytearrayStream()
        primitives.TextString(self.uid, T.UNIQUE_IDENTIFIER).write(local, kmip_version=kmip_version)
        primitives.ByteString(self.data, T.DATA).write(local, kmip_version=kmip_version)
        primitives.ByteString(self.mac_data, T.MAC_DATA).write(local, kmip_version=kmip_version)
        self.length = local.length()
        super().write(ostream, kmip_version=kmip_version)
        ostream.write(local.buffer)


class MacVerifyResponsePayload(payloads.ResponsePayload):
    def read(self, istream, kmip_version=E.KMIPVersion.KMIP_1_0):
        super().read(istream, kmip_version=kmip_version)
        local = utils.BytearrayStream(istream.read(self.length))
        uid = primitives.TextString(tag=T.UNIQUE_IDENTIFIER)
        uid.read(local, kmip_version=kmip_version)
        validity = primitives.Enumeration(E.ValidityIndicator, tag=T.VALIDITY_INDICATOR)
        validity.read(local, kmip_version=kmip_version)
        self.validity = validity.value


class RngRetrieveRequestPayload(payloads.RequestPayload):
    def __init__(self, length):
        super().__init__()
        self.n = length

    def write(self, ostream, kmip_version=E.KMIPVersion.KMIP_1_0):
        local = utils.BytearrayStream()
        primitives.Integer(self.n, T.DATA_LENGTH).write(local, kmip_version=kmip_version)
        self.length = local.length()
        super().write(ostream, kmip_version=kmip_version)
        ostream.write(local.buffer)


class RngRetrieveResponsePayload(payloads.ResponsePayload):
    def read(self, istream, kmip_version=E.KMIPVersion.KMIP_1_0):
        super().read(istream, kmip_version=kmip_version)
        local = utils.BytearrayStream(istream.read(self.length))
        data = primitives.ByteString(tag=T.DATA)
        data.read(local, kmip_version=kmip_version)
        self.data = data.value


response_factory.ResponsePayloadFactory._create_mac_verify_payload = lambda self: MacVerifyResponsePayload()
response_factory.ResponsePayloadFactory._create_rng_retrieve_payload = lambda self: RngRetrieveResponsePayload()


def one(operation, payload):
    r = send_batch(c, [batch_item(operation, payload)])
    item = r.batch_items[0]
    failed(item)
    return item.response_payload


def mac_verify(uid, data, mac):
    return enum_name(one(E.Operation.MAC_VERIFY, MacVerifyRequestPayload(uid, data, mac)).validity)


def rng(length):
    return one(E.Operation.RNG_RETRIEVE, RngRetrieveRequestPayload(length)).data


def activate(*uids):
    for u in uids:
        c.activate(u)


# --- AES ------------------------------------------------------------------------
aes = steps.run("createAes", lambda: c.create(E.CryptographicAlgorithm.AES, 256, name=n("aes")))
activate(aes)
aes_key = key_bytes(aes)
plain = b"keywarden interop plaintext, 45 bytes long.."


def gcm():
    p = one(E.Operation.ENCRYPT, payloads.EncryptRequestPayload(
        unique_identifier=aes, cryptographic_parameters=params(block_cipher_mode=E.BlockCipherMode.GCM), data=plain, auth_additional_data=b"aad"))
    local = AESGCM(aes_key).decrypt(p.iv_counter_nonce, p.data + p.auth_tag, b"aad")
    back = one(E.Operation.DECRYPT, payloads.DecryptRequestPayload(
        unique_identifier=aes, cryptographic_parameters=params(block_cipher_mode=E.BlockCipherMode.GCM), data=p.data,
        iv_counter_nonce=p.iv_counter_nonce, auth_additional_data=b"aad", auth_tag=p.auth_tag))
    # And what python-cryptography encrypts, keywarden decrypts.
    nonce = b"\x07" * 12
    theirs = AESGCM(aes_key).encrypt(nonce, plain, None)
    back2 = one(E.Operation.DECRYPT, payloads.DecryptRequestPayload(
        unique_identifier=aes, cryptographic_parameters=params(block_cipher_mode=E.BlockCipherMode.GCM), data=theirs[:-16],
        iv_counter_nonce=nonce, auth_tag=theirs[-16:]))
    return {"nonceLen": len(p.iv_counter_nonce), "tagLen": len(p.auth_tag), "localDecrypts": local == plain, "serverDecrypts": back.data == plain,
            "serverDecryptsTheirs": back2.data == plain}


steps.run("gcm", gcm)

cbc_params = {"block_cipher_mode": E.BlockCipherMode.CBC, "padding_method": E.PaddingMethod.PKCS5}


def cbc():
    iv = b"\x11" * 16
    data, made_iv = c.encrypt(plain, uid=aes, cryptographic_parameters=cbc_params, iv_counter_nonce=iv)
    d = Cipher(algorithms.AES(aes_key), modes.CBC(iv), backend).decryptor()
    u = sym_padding.PKCS7(128).unpadder()
    local = u.update(d.update(data) + d.finalize()) + u.finalize()
    back = c.decrypt(data, uid=aes, cryptographic_parameters=cbc_params, iv_counter_nonce=iv)
    data2, server_iv = c.encrypt(plain, uid=aes, cryptographic_parameters=cbc_params)
    back2 = c.decrypt(data2, uid=aes, cryptographic_parameters=cbc_params, iv_counter_nonce=server_iv)
    return {"len": len(data), "ivReturnedWhenGiven": made_iv is not None, "localDecrypts": local == plain, "serverDecrypts": back == plain,
            "serverIvLen": len(server_iv or b""), "serverIvRoundTrip": back2 == plain}


steps.run("cbc", cbc)

# --- RSA --------------------------------------------------------------------------
rsa_pub, rsa_priv = c.create_key_pair(E.CryptographicAlgorithm.RSA, 2048, public_name=n("rsa-pub"), private_name=n("rsa-priv"),
                                      public_usage_mask=[M.ENCRYPT, M.VERIFY], private_usage_mask=[M.DECRYPT, M.SIGN])
activate(rsa_pub, rsa_priv)
priv_key = serialization.load_der_private_key(key_bytes(rsa_priv), password=None, backend=backend)
pub_key = priv_key.public_key()
oaep_params = {"cryptographic_algorithm": E.CryptographicAlgorithm.RSA, "padding_method": E.PaddingMethod.OAEP, "hashing_algorithm": E.HashingAlgorithm.SHA_256}
oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def rsa_oaep():
    data, _ = c.encrypt(b"session key", uid=rsa_pub, cryptographic_parameters=oaep_params)
    mine = pub_key.encrypt(b"from python", oaep)
    back = c.decrypt(mine, uid=rsa_priv, cryptographic_parameters=oaep_params)
    return {"localDecrypts": priv_key.decrypt(data, oaep) == b"session key", "serverDecrypts": back == b"from python"}


steps.run("rsaOaep", rsa_oaep)
pss_params = {"cryptographic_algorithm": E.CryptographicAlgorithm.RSA, "padding_method": E.PaddingMethod.PSS, "hashing_algorithm": E.HashingAlgorithm.SHA_256}
pkcs1_params = {"digital_signature_algorithm": E.DigitalSignatureAlgorithm.SHA256_WITH_RSA_ENCRYPTION}


def signatures():
    msg = b"statement to sign"
    out = {}
    sig = c.sign(msg, uid=rsa_priv, cryptographic_parameters=pss_params)
    try:
        pub_key.verify(sig, msg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        out["pssLocal"] = True
    except InvalidSignature:
        out["pssLocal"] = False
    out["pssServer"] = enum_name(c.signature_verify(msg, sig, uid=rsa_pub, cryptographic_parameters=pss_params))
    out["pssServerTampered"] = enum_name(c.signature_verify(msg + b"!", sig, uid=rsa_pub, cryptographic_parameters=pss_params))
    sig15 = c.sign(msg, uid=rsa_priv, cryptographic_parameters=pkcs1_params)
    out["pkcs1Deterministic"] = sig15 == priv_key.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    theirs = priv_key.sign(msg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    out["pssTheirs"] = enum_name(c.signature_verify(msg, theirs, uid=rsa_pub, cryptographic_parameters=pss_params))
    return out


steps.run("rsaSignatures", signatures)

ec_pub, ec_priv = c.create_key_pair(E.CryptographicAlgorithm.ECDSA, 256, public_name=n("ec-pub"), private_name=n("ec-priv"))
activate(ec_pub, ec_priv)
ecdsa_params = {"digital_signature_algorithm": E.DigitalSignatureAlgorithm.ECDSA_WITH_SHA256}


def ecdsa():
    msg = b"ec statement"
    sig = c.sign(msg, uid=ec_priv, cryptographic_parameters=ecdsa_params)
    pub = serialization.load_der_public_key(key_bytes(ec_pub), backend=backend)
    try:
        pub.verify(sig, msg, ec.ECDSA(hashes.SHA256()))
        local = True
    except InvalidSignature:
        local = False
    ec_priv_key = serialization.load_der_private_key(key_bytes(ec_priv), password=None, backend=backend)
    theirs = ec_priv_key.sign(msg, ec.ECDSA(hashes.SHA256()))
    asym_utils.decode_dss_signature(theirs)
    return {"local": local, "server": enum_name(c.signature_verify(msg, theirs, uid=ec_pub, cryptographic_parameters=ecdsa_params)),
            "serverOther": enum_name(c.signature_verify(b"other", theirs, uid=ec_pub, cryptographic_parameters=ecdsa_params))}


steps.run("ecdsa", ecdsa)

# --- MAC ----------------------------------------------------------------------------
hm = steps.run("createHmac", lambda: c.create(E.CryptographicAlgorithm.HMAC_SHA256, 256, name=n("hmac"),
                                               cryptographic_usage_mask=[M.MAC_GENERATE, M.MAC_VERIFY, M.DERIVE_KEY]))
activate(hm)


def macs():
    msg = b"message to authenticate"
    uid, mac = c.mac(msg, uid=hm, algorithm=E.CryptographicAlgorithm.HMAC_SHA256)
    local = py_hmac.new(key_bytes(hm), msg, hashlib.sha256).digest()
    return {"uid": uid == hm, "equal": mac == local, "verify": mac_verify(hm, msg, mac), "verifyWrong": mac_verify(hm, msg, bytes(32))}


steps.run("mac", macs)
steps.run("rng", lambda: [len(rng(32)), rng(16) != rng(16)])

# --- Derive Key ---------------------------------------------------------------------


def pbkdf2():
    pw = c.register(pobjects.SecretData(b"correct horse battery", E.SecretDataType.PASSWORD, masks=[M.DERIVE_KEY], name=n("pw")))
    activate(pw)
    uid = c.derive_key(E.ObjectType.SYMMETRIC_KEY, [pw], E.DerivationMethod.PBKDF2, {
        "cryptographic_parameters": {"hashing_algorithm": E.HashingAlgorithm.SHA_256}, "salt": b"NaCl", "iteration_count": 1000,
    }, cryptographic_length=256, cryptographic_algorithm=E.CryptographicAlgorithm.AES)
    want = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=b"NaCl", iterations=1000, backend=backend).derive(b"correct horse battery")
    return key_bytes(uid) == want


def kbkdf():
    uid = c.derive_key(E.ObjectType.SYMMETRIC_KEY, [hm], E.DerivationMethod.NIST800_108_C, {
        "cryptographic_parameters": {"hashing_algorithm": E.HashingAlgorithm.SHA_256}, "derivation_data": b"label\x00context\x00\x00\x01\x00",
    }, cryptographic_length=256, cryptographic_algorithm=E.CryptographicAlgorithm.AES)
    want = KBKDFHMAC(algorithm=hashes.SHA256(), mode=Mode.CounterMode, length=32, rlen=4, llen=None, location=CounterLocation.BeforeFixed,
                     label=None, context=None, fixed=b"label\x00context\x00\x00\x01\x00", backend=backend).derive(key_bytes(hm))
    return key_bytes(uid) == want


steps.run("derivePbkdf2", pbkdf2)
steps.run("deriveKbkdf", kbkdf)

# --- refusals -------------------------------------------------------------------------
pre_active = c.create(E.CryptographicAlgorithm.AES, 128, name=n("pre-active"))
# PyKMIP's Create gives every key Encrypt and Decrypt, and no other use: the AES key may not compute MACs.
steps.run("macWithoutMask", lambda: c.mac(plain, uid=aes, algorithm=E.CryptographicAlgorithm.HMAC_SHA256))
steps.run("encryptWithHmacKey", lambda: c.encrypt(plain, uid=hm, cryptographic_parameters=cbc_params))
steps.run("encryptPreActive", lambda: c.encrypt(plain, uid=pre_active, cryptographic_parameters=cbc_params))
steps.run("encryptOversized", lambda: c.encrypt(b"\x00" * (300 * 1024), uid=aes, cryptographic_parameters=cbc_params))
steps.run("signWithPublicKey", lambda: c.sign(b"x", uid=rsa_pub, cryptographic_parameters=pss_params))
steps.run("encryptUnsupportedMode", lambda: c.encrypt(plain, uid=aes, cryptographic_parameters={"block_cipher_mode": E.BlockCipherMode.XTS}))
deactivated_iv = b"\x22" * 16
deactivated_data, _ = c.encrypt(plain, uid=aes, cryptographic_parameters=cbc_params, iv_counter_nonce=deactivated_iv)
c.revoke(E.RevocationReasonCode.CESSATION_OF_OPERATION, aes)
steps.run("encryptDeactivated", lambda: c.encrypt(plain, uid=aes, cryptographic_parameters=cbc_params))
steps.run("decryptDeactivated", lambda: c.decrypt(deactivated_data, uid=aes, cryptographic_parameters=cbc_params, iv_counter_nonce=deactivated_iv) == plain)

c.close()
steps.finish(uids={"aes": aes, "rsa": [rsa_pub, rsa_priv], "ec": [ec_pub, ec_priv], "hmac": hm})
