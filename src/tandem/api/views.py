"""Browsable API documentation, rendered on the server from the OpenAPI document itself
(no third-party UI, no script; readable with a screen reader)."""

from django.shortcuts import render

from tandem.api.urls import api


def api_docs(request):
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    operations = []
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            params = [
                {"name": p["name"], "where": p["in"], "required": p.get("required", False),
                 "type": p.get("schema", {}).get("type", p.get("schema", {}).get("format", ""))}
                for p in op.get("parameters", [])
            ]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            body_ref = body.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
            operations.append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""), "params": params, "body": body_ref,
                "responses": sorted(op.get("responses", {})), "id": op.get("operationId", ""),
            })
    schemas = []
    for name, sch in schema.get("components", {}).get("schemas", {}).items():
        required = set(sch.get("required", []))
        fields = [
            {"name": f, "required": f in required,
             "type": spec.get("type") or spec.get("format") or
             (spec.get("$ref", "") or str(spec.get("anyOf", ""))).rsplit("/", 1)[-1],
             "description": spec.get("description", "")}
            for f, spec in sch.get("properties", {}).items()
        ]
        schemas.append({"name": name, "fields": fields, "enum": sch.get("enum")})
    return render(request, "api/docs.html",
                  {"info": schema["info"], "operations": operations, "schemas": schemas})
