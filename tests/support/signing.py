"""A fixed document signing key for tests: what the hub signs with and the kiosks trust."""
from __future__ import annotations

import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.documents import Document, encode_document, public_key_hex, sign_document

#: The hub's test key (a fixed seed, so settings files can name its public half).
HUB_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
HUB_PUBLIC = public_key_hex(HUB_KEY)


def signed(doc: Document) -> bytes:
    """``doc`` signed with the test hub key, as the retained message."""
    return encode_document(sign_document(doc, HUB_KEY))


def write_key(path) -> str:
    """Write the test hub key as the PEM file ``yizhan hub publish --signing-key`` reads (0600)."""
    pem = HUB_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return str(path)
