"""The API's OpenAPI document names every 4xx an operation can answer, with its body.

Those answers come from layers around the operations rather than from each one: the bearer
token and permission middleware (401, 403, and 404 for a patient you may not see), the
bad-input middleware and the JSON parser (400), validation (422). So they are added to every
operation here, once, instead of in 35 decorators; an operation that documents a code itself
(e.g. a 409 with its own body) keeps its own."""

from __future__ import annotations

from ninja import NinjaAPI

from tandem.api import schemas as s

REF = "#/components/schemas/{model}"

# code: (description, body schema, which operations can answer it)
ANSWERS = {
    400: ("The request could not be read: the body is not JSON, or the path, a parameter or a "
          "form field holds a NUL character.", s.Error, "all"),
    401: ("No valid session or bearer token.", s.Error, "all"),
    403: ("Your role does not allow this.", s.Error, "all"),
    404: ("No such record, or not one you may see.", s.Error, "path"),
    409: ("The record changed since the version you read, or cannot change now: read it again.",
          s.Conflict, "changes"),
    422: ("A parameter or the body is invalid: one entry per problem, each naming its place.",
          s.Problems, "all"),
}
CHANGING_METHODS = {"put", "patch"}
# No text Tandem takes or gives holds a NUL character (PostgreSQL cannot store one; the
# bad-input middleware answers 400, the JSON parser 422): said in the document, so that "the
# schema allows it" and "the server takes it" agree. Strings with a format or a fixed set of
# values need no pattern.
NO_NUL = "^[^\\x00]*$"
TYPED = ("format", "enum", "const", "pattern")


def _no_nul(node) -> None:
    """Add NO_NUL to every free-text string, and to the keys of every free-form object."""
    if isinstance(node, list):
        for item in node:
            _no_nul(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not any(key in node for key in TYPED):
        node["pattern"] = NO_NUL
    if node.get("type") == "object" and node.get("additionalProperties") not in (None, False):
        node.setdefault("propertyNames", {"pattern": NO_NUL})
    for value in node.values():
        _no_nul(value)


def _applies(which: str, method: str, op: dict) -> bool:
    if which == "path":
        return any(p.get("in") == "path" for p in op.get("parameters", []))
    if which == "changes":
        return method in CHANGING_METHODS
    return True


class TandemAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in {body for _d, body, _w in ANSWERS.values()}:
            found = model.model_json_schema(ref_template=REF)
            components.update(found.pop("$defs", {}))
            components[model.__name__] = found
        for methods in schema["paths"].values():
            for method, op in methods.items():
                responses = op.setdefault("responses", {})
                have = {int(code) for code in responses}
                for code, (description, body, which) in ANSWERS.items():
                    if code not in have and _applies(which, method, op):
                        responses[code] = {
                            "description": description,
                            "content": {"application/json": {
                                "schema": {"$ref": REF.format(model=body.__name__)}}},
                        }
        _no_nul(schema["paths"])
        _no_nul(components)
        return schema
