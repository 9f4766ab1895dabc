"""Validate request and response bodies against the OpenAPI 3.1 documents in ``specs/``.

Helper module for tests (it defines no tests itself). Each spec file is loaded once and its
schemas are checked with :class:`jsonschema.Draft202012Validator`; ``$ref`` pointers inside the
document (``#/components/...``) are resolved through a :mod:`referencing` registry that holds the
whole document as one resource, so any spec file under ``specs/`` works the same way::

    from tests.spec_check import validate_response
    validate_response("/block", 200, body)                       # specs/rosetta.yaml
    validate_response("/rpc/IndexerGateway/Ping", 200, body, spec="sequence.yaml")

Mismatches raise :class:`AssertionError` naming the route, the status and the first few
validation errors with their JSON paths.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match, relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "SPECS_DIR",
    "load_spec",
    "registry",
    "resolve_pointer",
    "response_schema_pointer",
    "spec_routes",
    "validate_request",
    "validate_response",
]

SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
DEFAULT_CONTENT_TYPE = "application/json"
MAX_REPORTED_ERRORS = 5
_MAX_INSTANCE_REPR = 200


def _spec_uri(spec: str) -> str:
    """The base URI under which a spec document is registered."""
    return f"urn:rosetta-node:specs:{spec}"


@functools.cache
def load_spec(spec: str = "rosetta.yaml") -> dict[str, Any]:
    """Parse ``specs/<spec>`` once; the returned dict is shared, so do not modify it."""
    path = SPECS_DIR / spec
    with path.open(encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    if not isinstance(doc, dict) or "paths" not in doc:
        raise ValueError(f"{path} is not an OpenAPI document (no 'paths')")
    return doc


@functools.cache
def registry(spec: str = "rosetta.yaml") -> Registry:
    """A referencing registry holding the whole spec document as one 2020-12 resource."""
    resource: Resource[Any] = DRAFT202012.create_resource(load_spec(spec))
    return Registry().with_resource(_spec_uri(spec), resource)


def resolve_pointer(spec: str, ref: str) -> Any:
    """Resolve an in-document reference such as ``#/components/schemas/Error``."""
    if not ref.startswith("#"):
        raise ValueError(f"only in-document references are supported, got {ref!r}")
    node: Any = load_spec(spec)
    tokens = ref[2:].split("/") if ref.startswith("#/") else []
    for raw in tokens:
        token = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            raise KeyError(f"{spec}: reference {ref!r} does not resolve (missing {token!r})")
    return node


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(*tokens: str) -> str:
    return "#/" + "/".join(_escape(t) for t in tokens)


def _deref(spec: str, pointer: str, node: Any) -> tuple[str, Any]:
    """Follow OpenAPI-level ``$ref`` objects (responses, request bodies) to their target."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise ValueError(f"{spec}: reference cycle at {ref!r}")
        seen.add(ref)
        pointer, node = ref, resolve_pointer(spec, ref)
    return pointer, node


def spec_routes(spec: str = "rosetta.yaml") -> set[tuple[str, str]]:
    """Every ``(method, path)`` pair the spec defines, methods in lower case."""
    routes = set()
    for path, item in load_spec(spec)["paths"].items():
        _, item = _deref(spec, _pointer("paths", path), item)
        for method in item:
            if method in HTTP_METHODS:
                routes.add((method, path))
    return routes


@functools.cache
def _path_matchers(spec: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    """Regexes for templated paths (``/items/{id}``), literal paths first."""
    matchers = []
    for path in load_spec(spec)["paths"]:
        parts = re.split(r"(\{[^}/]+\})", path)
        regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        matchers.append((re.compile(f"^{regex}$"), path))
    matchers.sort(key=lambda m: ("{" in m[1], m[1]))
    return tuple(matchers)


def _operation(spec: str, path: str, method: str) -> tuple[str, str, dict[str, Any]]:
    """Find the operation for a concrete path; returns (template, pointer, operation)."""
    method = method.lower()
    paths = load_spec(spec)["paths"]
    template = path if path in paths else None
    if template is None:
        for regex, candidate in _path_matchers(spec):
            if regex.match(path):
                template = candidate
                break
    if template is None:
        raise AssertionError(f"{spec}: route {path!r} is not in the spec")
    pointer, item = _deref(spec, _pointer("paths", template), paths[template])
    if method not in item:
        allowed = sorted(m for m in item if m in HTTP_METHODS)
        raise AssertionError(
            f"{spec}: {method.upper()} {path} is not in the spec (methods: {allowed})"
        )
    return template, f"{pointer}/{_escape(method)}", item[method]


def _media_schema_pointer(
    spec: str, where: str, pointer: str, obj: dict[str, Any], content_type: str
) -> str | None:
    """Pointer to the schema of ``content_type`` in a response/request body object."""
    content = obj.get("content")
    if not content:
        return None
    if content_type in content:
        media_type = content_type
    elif len(content) == 1:
        media_type = next(iter(content))
    else:
        raise AssertionError(f"{where}: no {content_type!r} content (has {sorted(content)})")
    if "schema" not in content[media_type]:
        return None
    return f"{pointer}/content/{_escape(media_type)}/schema"


@functools.cache
def _validator(spec: str, pointer: str) -> Draft202012Validator:
    schema = {"$ref": _spec_uri(spec) + pointer}
    return Draft202012Validator(schema, registry=registry(spec))


def _short(instance: Any) -> str:
    text = repr(instance)
    return text if len(text) <= _MAX_INSTANCE_REPR else text[: _MAX_INSTANCE_REPR - 3] + "..."


def _message(error: ValidationError) -> str:
    if error.validator == "not":
        # The default text repeats the whole instance; the path already says where it is.
        return f"must not be valid under {error.validator_value!r}"
    return _short(error.message) if len(error.message) > 2 * _MAX_INSTANCE_REPR else error.message


def _describe(error: ValidationError) -> str:
    line = f"  at {error.json_path}: {_message(error)}"
    if error.context:
        # anyOf/oneOf/allOf failures: name the most telling branch error as well.
        inner = best_match(error.context)
        line += f"\n      because at {inner.json_path}: {_message(inner)}"
    return line


def _check(spec: str, pointer: str, body: Any, where: str) -> None:
    # The same failure can be reached along several allOf branches: report it once.
    unique: dict[tuple[str, str], ValidationError] = {}
    for error in _validator(spec, pointer).iter_errors(body):
        unique.setdefault((error.json_path, _message(error)), error)
    errors = sorted(unique.values(), key=relevance, reverse=True)
    if not errors:
        return
    shown = sorted(errors[:MAX_REPORTED_ERRORS], key=lambda e: e.json_path)
    lines = [f"{where}: body does not match {pointer} ({len(errors)} error(s))"]
    lines.extend(_describe(e) for e in shown)
    if len(errors) > len(shown):
        lines.append(f"  ... and {len(errors) - len(shown)} more")
    lines.append(f"  body: {_short(body)}")
    raise AssertionError("\n".join(lines))


def _iter_status_keys(status: int) -> Iterator[str]:
    yield str(status)
    yield f"{status // 100}XX"
    yield f"{status // 100}xx"
    yield "default"


def response_schema_pointer(
    path: str,
    status: int,
    *,
    spec: str = "rosetta.yaml",
    method: str = "post",
    content_type: str = DEFAULT_CONTENT_TYPE,
) -> str | None:
    """Pointer to the schema documented for a response, or None if it has no body."""
    _, op_pointer, operation = _operation(spec, path, method)
    where = f"{spec}: {method.upper()} {path} -> {status}"
    responses = operation.get("responses") or {}
    for key in _iter_status_keys(status):
        if key in responses:
            pointer, response = _deref(
                spec, f"{op_pointer}/responses/{_escape(key)}", responses[key]
            )
            return _media_schema_pointer(spec, where, pointer, response, content_type)
    raise AssertionError(
        f"{where}: status {status} is not documented (documented: {sorted(responses)})"
    )


def validate_response(
    path: str,
    status: int,
    body: object,
    *,
    spec: str = "rosetta.yaml",
    method: str = "post",
    content_type: str = DEFAULT_CONTENT_TYPE,
) -> None:
    """Assert that ``body`` is what the spec documents for ``method path`` answering ``status``.

    The response is looked up by exact status, then by range (``5XX``), then ``default``.
    Raises AssertionError if the route, method or status is not documented, or if the body
    does not validate against the response schema.
    """
    pointer = response_schema_pointer(
        path, status, spec=spec, method=method, content_type=content_type
    )
    where = f"{spec}: {method.upper()} {path} -> {status}"
    if pointer is None:
        if body not in (None, b"", ""):
            raise AssertionError(f"{where}: the spec documents no body, got {_short(body)}")
        return
    _check(spec, pointer, body, where)


def validate_request(
    path: str,
    body: object,
    *,
    spec: str = "rosetta.yaml",
    method: str = "post",
    content_type: str = DEFAULT_CONTENT_TYPE,
) -> None:
    """Assert that ``body`` is a valid request body for ``method path`` in the spec.

    ``body=None`` stands for "no body" and is accepted only when the request body is optional.
    """
    _, op_pointer, operation = _operation(spec, path, method)
    where = f"{spec}: {method.upper()} {path} request"
    if "requestBody" not in operation:
        if body is None:
            return
        raise AssertionError(f"{where}: the spec documents no request body")
    pointer, request_body = _deref(spec, f"{op_pointer}/requestBody", operation["requestBody"])
    if body is None:
        if request_body.get("required", False):
            raise AssertionError(f"{where}: a request body is required")
        return
    schema_pointer = _media_schema_pointer(spec, where, pointer, request_body, content_type)
    if schema_pointer is not None:
        _check(spec, schema_pointer, body, where)
