#!/usr/bin/python3
"""vCenter-like keys for the console's browser test (test/e2e/console.test.ts).

usage: console_keys.py create PORT PKI_DIR SPEC_JSON MATERIAL_FILE
         SPEC_JSON: [{"name": <Name or null>, "tags": {"x-Name": ..., ...}}, ...]
         Creates, tags (Add Attribute, as vCenter does) and activates one key
         per entry; writes the first key's material (base64) to MATERIAL_FILE
         (mode 0600) so the test can check the browser never receives it.
       console_keys.py get PORT PKI_DIR UID
Prints one JSON line; never key material (only its SHA-256).
"""
import base64
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'interop', 'py'))

from kw import add_attribute, attribute, client, failure  # noqa: E402
from kmip.core import enums  # noqa: E402


def main():
    mode, port, pki = sys.argv[1], int(sys.argv[2]), sys.argv[3].rstrip('/') + '/'
    cfg = {'host': '127.0.0.1', 'port': port, 'ca': pki + 'ca.crt'}
    c = client(cfg, {'cert': pki + 'client.crt', 'key': pki + 'client.key'}, '1.1')
    try:
        if mode == 'create':
            spec = json.loads(sys.argv[4])
            uids = []
            for i, entry in enumerate(spec):
                uid = c.create(
                    enums.CryptographicAlgorithm.AES, 256, name=entry.get('name'),
                    cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT],
                )
                for name, value in entry.get('tags', {}).items():
                    add_attribute(c, uid, attribute(name, value))
                c.activate(uid)
                if i == 0:
                    value = c.get(uid).value
                    fd = os.open(sys.argv[5], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, 'w') as f:
                        f.write(base64.b64encode(value).decode())
                uids.append(uid)
            print(json.dumps({'uids': uids}))
        else:
            try:
                key = c.get(sys.argv[4])
                print(json.dumps({'ok': True, 'sha256': hashlib.sha256(key.value).hexdigest()}))
            except Exception as e:  # noqa: BLE001 - the refusal is the result
                print(json.dumps(failure(e)))
    finally:
        c.close()


if __name__ == '__main__':
    main()
