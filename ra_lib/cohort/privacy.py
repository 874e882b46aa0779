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


def load_or_create_salt(path: str | Path) -> str:
    """Read the salt file; create it with a random 256-bit salt (owner-only permissions) if missing.

    Never follows a symbolic link (a link, dangling or looping, is refused with ``ValueError``),
    so the salt cannot be read from or written to a place outside the data root by a link.
    """
    path = Path(path)
    if path.is_symlink():
        raise ValueError(f"{path}: salt file is a symbolic link; replace it by a regular file or delete it")
    if path.exists():
        if not path.is_file():
            raise ValueError(f"{path}: salt file is not a regular file")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            salt = handle.read(4096).decode("utf-8", errors="replace").strip()
        if not salt:
            raise ValueError(f"{path}: salt file is empty; delete it to have a new one created")
        return salt
    salt = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:  # another process created it first: use theirs
        if path.is_symlink():
            raise ValueError(f"{path}: salt file is a symbolic link; replace it by a regular file") from None
        return load_or_create_salt(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(salt + "\n")
    return salt
