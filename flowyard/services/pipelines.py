"""KFP PipelineService and the multipart upload service: pipelines and their versions."""

from __future__ import annotations

import io
import tarfile
import zipfile
import zlib
from pathlib import PurePath
from typing import Any

import yaml

from flowyard.services import listing
from flowyard.services.context import Services
from flowyard.services.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from flowyard.services.kfp_json import compact, display_name, obj, text, ts
from flowyard.services.submission import load_spec
from flowyard.store import errors as store_errors
from flowyard.store.pipelines import PipelineStore
from flowyard.store.query import list_page
from flowyard.store.schema import Pipeline, PipelineVersion

FIELDS = {
    "pipeline_id": listing.Field("id"), "id": listing.Field("id"),
    "display_name": listing.Field("display_name"), "name": listing.Field("name"),
    "description": listing.Field("description"),
    "created_at": listing.Field("created_at", "time"), "namespace": listing.Field("namespace"),
}
COLUMNS = {"id": Pipeline.id, "name": Pipeline.name, "display_name": Pipeline.display_name,
           "description": Pipeline.description, "created_at": Pipeline.created_at,
           "namespace": Pipeline.namespace}
VERSION_FIELDS = {
    "pipeline_version_id": listing.Field("id"), "id": listing.Field("id"),
    "display_name": listing.Field("display_name"), "name": listing.Field("name"),
    "description": listing.Field("description"),
    "created_at": listing.Field("created_at", "time"),
}
VERSION_COLUMNS = {"id": PipelineVersion.id, "name": PipelineVersion.name,
                   "display_name": PipelineVersion.display_name,
                   "description": PipelineVersion.description,
                   "created_at": PipelineVersion.created_at}


def to_json(row: Pipeline) -> dict[str, Any]:
    return compact({"pipeline_id": row.id, "display_name": row.display_name, "name": row.name,
                    "description": row.description, "created_at": ts(row.created_at),
                    "namespace": row.namespace, "tags": row.tags or None})


def version_json(row: PipelineVersion, with_spec: bool = True) -> dict[str, Any]:
    spec = ({"pipeline_spec": row.spec, "platform_spec": row.platform_spec}
            if row.platform_spec else row.spec)
    return compact({
        "pipeline_id": row.pipeline_id, "pipeline_version_id": row.id,
        "display_name": row.display_name, "name": row.name, "description": row.description,
        "created_at": ts(row.created_at), "code_source_url": row.code_source_url or None,
        "package_url": {"pipeline_url": row.package_url} if row.package_url else None,
        "pipeline_spec": spec if with_spec else None, "tags": row.tags or None,
    })


def _name(value: Any, field: str) -> str:
    version = "version" in field
    return display_name(value, field, 127 if version else 128,  # KFP's limits
                        "a pipeline version" if version else "a pipeline")


def _tags(value: Any) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidArgument("tags: expected a JSON object of strings") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidArgument("tags: expected an object of string values")
    return value


def parse_package(data: bytes, filename: str = "") -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The pipeline (and platform spec) in an uploaded file: YAML, JSON, .zip or .tar.gz."""
    if data[:2] == b"\x1f\x8b" or data[:4] == b"PK\x03\x04":
        data = _unpack(data)
    try:
        docs = [d for d in yaml.safe_load_all(data.decode("utf-8")) if d is not None]
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"uploadfile {filename}: not a YAML or JSON pipeline: {exc}"
                              ) from None
    if not docs or not isinstance(docs[0], dict):
        raise InvalidArgument(f"uploadfile {filename}: empty, or not a compiled KFP pipeline")
    platform = docs[1] if len(docs) > 1 and isinstance(docs[1], dict) else None
    doc = load_spec(docs[0], platform, "uploadfile")
    return doc.spec, doc.platform_spec


MAX_UNPACKED = 64 * 2**20  # a small archive must not expand into gigabytes


def _bounded(f: Any) -> bytes:
    out = f.read(MAX_UNPACKED + 1)
    if len(out) > MAX_UNPACKED:
        raise InvalidArgument(f"uploadfile: the pipeline in the archive is over "
                              f"{MAX_UNPACKED // 2**20} MiB")
    return bytes(out)


def _unpack(data: bytes) -> bytes:
    try:
        if data[:2] == b"\x1f\x8b":
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                for m in tar:
                    if m.isfile() and m.name.endswith((".yaml", ".yml", ".json")):
                        f = tar.extractfile(m)
                        if f is not None:
                            return _bounded(f)
        else:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for n in zf.namelist():
                    if n.endswith((".yaml", ".yml", ".json")):
                        with zf.open(n) as f:
                            return _bounded(f)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError,
            NotImplementedError) as exc:  # broken, encrypted or oddly compressed archives
        raise InvalidArgument(f"uploadfile: a broken archive: {exc}") from None
    raise InvalidArgument("uploadfile: the archive holds no .yaml, .yml or .json pipeline")


def _version_fields(name: str, spec: dict[str, Any], platform: dict[str, Any] | None,
                    body: dict[str, Any]) -> dict[str, Any]:
    return dict(name=name, display_name=text(body.get("display_name"), "display_name") or name,
                description=text(body.get("description"), "description"), spec=spec,
                platform_spec=platform,
                code_source_url=text(body.get("code_source_url"), "code_source_url"),
                tags=_tags(body.get("tags")))


def upload(svc: Services, data: bytes, filename: str, params: dict[str, Any]) -> dict[str, Any]:
    spec, platform = parse_package(data, filename)
    name = _name(params.get("name") or params.get("display_name")
                 or PurePath(filename or "pipeline").stem, "name")
    try:
        pipe, _ = PipelineStore(svc.store).create(
            name, display_name=text(params.get("display_name"), "display_name") or name,
            description=text(params.get("description"), "description"),
            namespace=text(params.get("namespace"), "namespace"), tags=_tags(params.get("tags")),
            version=_version_fields(name, spec, platform, params))
    except store_errors.Conflict as exc:
        raise AlreadyExists(str(exc)) from None
    return to_json(pipe)


def upload_version(svc: Services, data: bytes, filename: str, params: dict[str, Any]) -> dict[
        str, Any]:
    pipeline_id = text(params.get("pipelineid"), "pipelineid")
    if not pipeline_id:
        raise InvalidArgument("pipelineid: the pipeline to add a version to is required")
    spec, platform = parse_package(data, filename)
    name = _name(params.get("name") or params.get("display_name")
                 or PurePath(filename or "version").stem, "name")
    return _add_version(svc, pipeline_id, _version_fields(name, spec, platform, params))


def _add_version(svc: Services, pipeline_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    try:
        ver = PipelineStore(svc.store).add_version(pipeline_id, **fields)
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from None
    except store_errors.Conflict as exc:
        raise AlreadyExists(str(exc)) from None
    return version_json(ver)


def _spec_of(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    spec = body.get("pipeline_spec")
    if spec is None:
        if body.get("package_url"):
            raise InvalidArgument("package_url: fetching pipelines from URLs is not supported; "
                                  "send pipeline_spec, or upload the file")
        raise InvalidArgument("pipeline_version.pipeline_spec: the compiled pipeline is required")
    doc = load_spec(spec, None, "pipeline_version.pipeline_spec")
    return doc.spec, doc.platform_spec


def create(svc: Services, body: Any) -> dict[str, Any]:
    body = obj(body, "pipeline")
    name = _name(body.get("name") or body.get("display_name"), "name")
    try:
        pipe, _ = PipelineStore(svc.store).create(
            name, display_name=text(body.get("display_name"), "display_name") or name,
            description=text(body.get("description"), "description"),
            namespace=text(body.get("namespace"), "namespace"), tags=_tags(body.get("tags")))
    except store_errors.Conflict as exc:
        raise AlreadyExists(str(exc)) from None
    return to_json(pipe)


def create_with_version(svc: Services, body: Any) -> dict[str, Any]:
    body = obj(body, "body")
    pipe_body = obj(body.get("pipeline"), "pipeline")
    ver_body = obj(body.get("pipeline_version"), "pipeline_version")
    name = _name(pipe_body.get("name") or pipe_body.get("display_name"), "pipeline.name")
    spec, platform = _spec_of(ver_body)
    ver_name = text(ver_body.get("name") or ver_body.get("display_name"), "name") or name
    try:
        pipe, _ = PipelineStore(svc.store).create(
            name, display_name=text(pipe_body.get("display_name"), "display_name") or name,
            description=text(pipe_body.get("description"), "description"),
            namespace=text(pipe_body.get("namespace"), "namespace"),
            tags=_tags(pipe_body.get("tags")),
            version=_version_fields(_name(ver_name, "pipeline_version.name"), spec, platform,
                                    ver_body))
    except store_errors.Conflict as exc:
        raise AlreadyExists(str(exc)) from None
    return to_json(pipe)


def create_version(svc: Services, pipeline_id: str, body: Any) -> dict[str, Any]:
    body = obj(body, "pipeline_version")
    spec, platform = _spec_of(body)
    name = _name(body.get("name") or body.get("display_name"), "pipeline_version.name")
    return _add_version(svc, pipeline_id, _version_fields(name, spec, platform, body))


def get(svc: Services, pipeline_id: str) -> dict[str, Any]:
    try:
        return to_json(PipelineStore(svc.store).get(pipeline_id))
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from None


def get_by_name(svc: Services, name: str, namespace: str = "") -> dict[str, Any]:
    try:
        return to_json(PipelineStore(svc.store).by_name(name, namespace or ""))
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from None


def version_row(svc: Services, pipeline_id: str, version_id: str) -> PipelineVersion:
    """A version by id, or (no version id) the pipeline's newest version."""
    ps = PipelineStore(svc.store)
    try:
        if version_id:
            return ps.version(version_id, pipeline_id or None)
        ps.get(pipeline_id)
        return ps.latest_version(pipeline_id)
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from None


def get_version(svc: Services, pipeline_id: str, version_id: str) -> dict[str, Any]:
    return version_json(version_row(svc, pipeline_id, version_id or "-"))


def list_(svc: Services, *, page_token: str | None = None, page_size: Any = None,
          sort_by: str | None = None, filter: str | None = None,
          namespace: str | None = None) -> dict[str, Any]:
    p = listing.page(FIELDS, filter=filter, sort_by=sort_by, page_token=page_token,
                     page_size=page_size)
    rows, total = list_page(svc.store, Pipeline, COLUMNS, p)
    return compact({"pipelines": [to_json(r) for r in rows] or None, "total_size": total,
                    "next_page_token": listing.token(p, total, rows, COLUMNS)})


def list_versions(svc: Services, pipeline_id: str, *, page_token: str | None = None,
                  page_size: Any = None, sort_by: str | None = None,
                  filter: str | None = None) -> dict[str, Any]:
    get(svc, pipeline_id)
    p = listing.page(VERSION_FIELDS, filter=filter, sort_by=sort_by, page_token=page_token,
                     page_size=page_size)
    rows, total = list_page(svc.store, PipelineVersion, VERSION_COLUMNS, p,
                            [PipelineVersion.pipeline_id == pipeline_id])
    return compact({"pipeline_versions": [version_json(r) for r in rows] or None,
                    "total_size": total, "next_page_token": listing.token(p, total, rows, VERSION_COLUMNS)})


def delete(svc: Services, pipeline_id: str, cascade: bool = False) -> dict[str, Any]:
    try:
        PipelineStore(svc.store).delete(pipeline_id, cascade)
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from None
    except store_errors.Conflict as exc:
        raise FailedPrecondition(str(exc)) from None
    return {}


def delete_version(svc: Services, pipeline_id: str, version_id: str) -> dict[str, Any]:
    try:
        PipelineStore(svc.store).delete_version(pipeline_id, version_id)
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from None
    return {}


def update(svc: Services, pipeline_id: str, body: Any) -> dict[str, Any]:
    body = obj(body, "pipeline")
    fields = {k: text(body[k], k) for k in ("display_name", "description") if k in body}
    try:
        return to_json(PipelineStore(svc.store).update(pipeline_id, **fields))
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from None
