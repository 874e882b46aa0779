"""Patient pseudonyms: a salted hash replaces every patient identifier before any stage sees it.

The salt is a random secret kept beside the data (``privacy.salt_file`` in the manifest,
default ``.ra_book_salt`` in the data root, never committed). The same salt always gives the
same pseudonym, so tables written on different days still join; without the salt, a pseudonym
cannot be traced back to the identifier by trying candidate ids.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

PREFIX = "P-"
HEX_DIGITS = 10


def pseudonym(patient_id: str, salt: str) -> str:
    """``"P-"`` + the first 10 hex digits of HMAC-SHA256(salt, patient_id)."""
    if not salt:
        raise ValueError("pseudonym needs a non-empty salt")
    digest = hmac.new(salt.encode(), str(patient_id).encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest[:HEX_DIGITS]


def is_pseudonym(value: str) -> bool:
    """Whether ``value`` has the pseudonym form ``P-`` + 10 lower-case hex digits."""
    tail = value[len(PREFIX):]
    return (value.startswith(PREFIX) and len(tail) == HEX_DIGITS
            and all(c in "0123456789abcdef" for c in tail))


def load_or_create_salt(path: str | Path) -> str:
    """Read the salt file; create it with a random 256-bit salt (owner-only permissions) if missing."""
    path = Path(path)
    if path.exists():
        salt = path.read_text().strip()
        if not salt:
            raise ValueError(f"{path}: salt file is empty; delete it to have a new one created")
        return salt
    salt = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return load_or_create_salt(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(salt + "\n")
    return salt
