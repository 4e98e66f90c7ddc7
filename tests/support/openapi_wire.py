"""A request as our REST APIs read it off the wire, judged against their OpenAPI documents.

schemathesis's ``negative_data_rejection`` check fails when the API accepts a request that
schemathesis generated to be invalid. But a value can be invalid as generated and valid as
sent: the number ``0.0`` in an array of strings arrives as the string ``"0.0"``; ``None``
for a parameter with ``allowEmptyValue`` arrives as an empty value. schemathesis forgives
such cases for a single mutation of a scalar parameter, not for arrays of strings or for
several mutations at once, and then reports the API for accepting a valid request.

`valid_as_read` decides from the URL that was actually sent, read the way
`frontier.httpapi` reads it (repeated scalars and undeclared names are errors, an empty
value of an ``allowEmptyValue`` parameter is absent, ASCII-digit texts are integers), so
the test tier can tell such a false alarm from a finding and still fail on every finding.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jsonschema

_INTEGER = re.compile(r"-?[0-9]+")


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """`node`, or what its local ``$ref`` (chain) points to in `document`."""
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def operation_parameters(document: dict[str, Any], path: str, method: str) -> list[dict[str, Any]]:
    """The parameters of one operation (path-level and its own), references resolved."""
    item = document["paths"][path]
    declared = [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]
    return [resolve(document, parameter) for parameter in declared]


def _read(text: str, schema: dict[str, Any]) -> object:
    """A text as our parsers read it: an integer where the schema wants one and the text is
    a decimal integer (which the parser then bounds), else the text itself."""
    if schema.get("type") == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    return text


def _valid(value: object, schema: dict[str, Any]) -> bool:
    return bool(jsonschema.Draft7Validator(schema).is_valid(value))


def _path_values(template: str, path: str) -> dict[str, str] | None:
    """The path parameters' texts in `path` (percent-decoded), or None if it does not match."""
    pattern = re.escape(template)
    for name in re.findall(r"\{(\w+)\}", template):
        pattern = pattern.replace(re.escape(f"{{{name}}}"), f"(?P<{name}>[^/]+)")
    match = re.search(pattern + "$", path)
    return None if match is None else {k: unquote(v) for k, v in match.groupdict().items()}


def valid_as_read(document: dict[str, Any], template: str, method: str, url: str) -> bool:
    """Whether the request sent to `url` for operation (`template`, `method`) is valid per
    `document` once read the way our APIs read a request."""
    parameters = operation_parameters(document, template, method)
    split = urlsplit(url)
    in_path = _path_values(template, split.path)
    if in_path is None:
        return False
    query = {p["name"]: p for p in parameters if p["in"] == "query"}
    sent = parse_qs(split.query, keep_blank_values=True)
    for name, texts in sent.items():
        parameter = query.get(name)
        if parameter is None:
            return False
        schema = parameter["schema"]
        if schema.get("type") == "array":
            value: object = [_read(text, schema.get("items", {})) for text in texts]
        elif len(texts) > 1:
            return False
        elif texts[0] == "" and parameter.get("allowEmptyValue"):
            continue
        else:
            value = _read(texts[0], schema)
        if not _valid(value, schema):
            return False
    for parameter in parameters:
        name = parameter["name"]
        if parameter["in"] == "query" and parameter.get("required"):
            if name not in sent or sent[name] == [""]:
                return False
        elif parameter["in"] == "path":
            text = in_path.get(name)
            if text is None or not _valid(_read(text, parameter["schema"]), parameter["schema"]):
                return False
    return True
