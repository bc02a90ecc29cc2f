"""Secrets and config maps. Secret values are encrypted (Fernet) with a key that lives
outside the database, so neither the store nor its backups hold them in plain text."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select, update

from flowyard.config import settings
from flowyard.store.inserts import insert_if_absent
from flowyard.store.schema import Secret, utcnow
from flowyard.store.store import Store

KINDS = ("Secret", "ConfigMap")


def _key_file() -> Path:
    return settings().home / "secret.key"


def _fernet() -> Fernet:
    env_key = os.environ.get("FLOWYARD_SECRET_KEY")
    if env_key:
        return Fernet(env_key.encode())
    path = _key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
    return Fernet(path.read_bytes().strip())


class SecretStore:
    def __init__(self, store: Store) -> None:
        self.store = store

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
