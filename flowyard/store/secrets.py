"""Secrets and config maps. Secret values are encrypted (Fernet) with a key that lives
outside the database, so neither the store nor its backups hold them in plain text."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select, update

from flowyard.config import settings
from flowyard.store.inserts import insert_if_absent
from flowyard.store.schema import Secret, utcnow
from flowyard.store.store import Store

KINDS = ("Secret", "ConfigMap")
MAX_KEY_LENGTH = 253
_KEY = re.compile(r"[-._a-zA-Z0-9]+")
KEY_FORMAT = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
              "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
              "'[-._a-zA-Z0-9]+')")


def key_problems(key: str) -> list[str]:
    """What is wrong with a Secret/ConfigMap key, in Kubernetes' words (IsConfigMapKey).
    Keys become file names when mounted, so nothing that walks a path gets through."""
    problems = []
    if len(key) > MAX_KEY_LENGTH:
        problems.append(f"must be no more than {MAX_KEY_LENGTH} characters")
    if not _KEY.fullmatch(key):
        problems.append(KEY_FORMAT)
    if key in (".", ".."):
        problems.append(f"must not be {key!r}")
    elif key.startswith(".."):
        # The kubelet keeps its own `..data` and `..timestamp` entries in a volume.
        problems.append("must not start with '..'")
    return problems


def check_key(key: str, where: str = "key") -> str:
    problems = key_problems(key)
    if problems:
        raise ValueError(f"{where} {key!r}: {'; '.join(problems)}")
    return key


def _key_file() -> Path:
    return settings().home / "secret.key"


def _key() -> bytes:
    env_key = os.environ.get("FLOWYARD_SECRET_KEY")
    if env_key:
        return env_key.encode()
    path = _key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and linked into place, so a process starting at the same moment
        # never reads a half-written key; whoever links first wins and both use that key.
        # Named per process and thread: two threads of one server make the key at once too.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes().strip()


def _fernet() -> Fernet:
    return Fernet(_key())


class SecretStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def digest(data: dict[str, str]) -> str:
        """A keyed digest of the values: it changes when they change, and says nothing about
        them to whoever lacks the secret key (unlike a plain hash of a short password)."""
        key = hashlib.sha256(b"flowyard secret digest\0" + _key()).digest()
        blob = json.dumps(data, sort_keys=True).encode()
        return "hmac-sha256:" + hmac.new(key, blob, hashlib.sha256).hexdigest()[:32]

    def _encode(self, kind: str, data: dict[str, str]) -> str:
        blob = json.dumps(data, sort_keys=True)
        return _fernet().encrypt(blob.encode()).decode() if kind == "Secret" else blob

    def _decode(self, kind: str, text: str) -> dict[str, str]:
        if kind != "Secret":
            return dict(json.loads(text))
        try:
            return dict(json.loads(_fernet().decrypt(text.encode())))
        except InvalidToken as exc:
            raise ValueError("cannot decrypt the secret store: FLOWYARD_SECRET_KEY or "
                             f"{_key_file()} is not the key the secrets were written with") from exc

    def put(self, name: str, data: dict[str, str], kind: str = "Secret",
            namespace: str = "default") -> None:
        for key in data:
            check_key(key)
        encoded = self._encode(kind, data)
        with self.store.session() as s, s.begin():
            # Insert-or-update in a way two writers of a new name cannot both insert.
            if not insert_if_absent(s, Secret, name=name, namespace=namespace, kind=kind,
                                    data=encoded):
                s.execute(update(Secret).where(Secret.name == name, Secret.namespace == namespace,
                                               Secret.kind == kind)
                          .values(data=encoded, updated_at=utcnow()))

    def get(self, name: str, kind: str = "Secret", namespace: str = "default"
            ) -> dict[str, str] | None:
        with self.store.session() as s:
            row = s.get(Secret, (name, namespace, kind))
            return None if row is None else self._decode(kind, row.data)

    def names(self, kind: str = "Secret", namespace: str = "default") -> list[tuple[str, list[str]]]:
        """(name, keys) of each entry; values are never listed."""
        with self.store.session() as s:
            rows = s.scalars(select(Secret).where(Secret.kind == kind,
                                                  Secret.namespace == namespace)
                             .order_by(Secret.name)).all()
        return [(r.name, sorted(self._decode(kind, r.data))) for r in rows]

    def delete(self, name: str, kind: str = "Secret", namespace: str = "default") -> bool:
        with self.store.session() as s, s.begin():
            res = s.execute(delete(Secret).where(Secret.name == name, Secret.kind == kind,
                                                 Secret.namespace == namespace))
            return bool(res.rowcount)
