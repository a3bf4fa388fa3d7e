#!/usr/bin/python3
"""One vCenter-like session with PyKMIP's client, for the end-to-end test.

usage: vcenter_session.py create|get PORT PKI_DIR [UID]
Prints one JSON line: {"uid": ..., "sha256": <digest of the key bytes>, "length": N, "state": ...}.
Key bytes are never printed, only their SHA-256.
"""
import hashlib
import json
import logging
import sys

logging.disable(logging.CRITICAL)

from kmip.core import enums  # noqa: E402
from kmip.pie.client import ProxyKmipClient  # noqa: E402


def main():
    mode, port, pki = sys.argv[1], int(sys.argv[2]), sys.argv[3].rstrip('/') + '/'
    client = ProxyKmipClient(
        hostname='127.0.0.1', port=port,
        cert=pki + 'client.crt', key=pki + 'client.key', ca=pki + 'ca.crt',
        ssl_version='PROTOCOL_SSLv23', kmip_version=enums.KMIPVersion.KMIP_1_1,
        config_file='/dev/null',
    )
    with client:
        if mode == 'create':
            uid = client.create(
                enums.CryptographicAlgorithm.AES, 256,
                cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT],
            )
            attrs = client.get_attributes(uid, ['State'])[1]
            state = attrs[0].attribute_value.value.name if attrs else None
            client.activate(uid)
        else:
            uid = sys.argv[4]
            state = None
        key = client.get(uid)
        print(json.dumps({
            'uid': uid,
            'sha256': hashlib.sha256(key.value).hexdigest(),
            'length': len(key.value),
            'algorithm': key.cryptographic_algorithm.name,
            'state': state,
        }))


if __name__ == '__main__':
    main()
