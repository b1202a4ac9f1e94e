"""The small parts of API Gateway's expression languages a WebSocket API uses.

- selection expressions (``$request.body.action``, ``\\$default``, ``${request.body.a.b}``);
- mapping templates reduced to variable substitution: ``$context.*``, ``$stageVariables.*``,
  ``$input.body``, ``$input.json('$')`` and ``$input.path('$.x')``, with the quiet (``$!x``) and
  formal (``${x}``) notations. VTL directives (#if, #foreach, #set) are not evaluated;
- MOCK integrations: the request template picks the integration response.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

log = logging.getLogger("local.templates")

_VARIABLE = re.compile(
    r"\$!?\{?(?P<ns>context|stageVariables)\.(?P<path>[A-Za-z0-9_.\-]+)\}?"
    r"|\$!?\{?input\.body\}?"
    r"|\$!?input\.(?P<fn>json|path)\('(?P<jp>[^']*)'\)"
)


def selection_value(expression: str | None, body: str) -> str | None:
    """Evaluate a selection expression against a frame; None when it selects nothing."""
    if not expression:
        return None
    expr = expression.strip()
    if expr in ("\\$default", "$default"):
        return "$default"
    inner = expr[2:-1] if expr.startswith("${") and expr.endswith("}") else expr.lstrip("$")
    if not inner.startswith("request.body"):
        return expr  # a literal key
    try:
        value: Any = json.loads(body)
    except ValueError:
        return None
    for part in inner.removeprefix("request.body").strip(".").split("."):
        if not part:
            continue
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if isinstance(value, dict | list) or value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_path(body: str, path: str) -> Any:
    try:
        value: Any = json.loads(body)
    except ValueError:
        return None
    for part in path.removeprefix("$").strip(".").split("."):
        if not part:
            continue
        value = value.get(part) if isinstance(value, dict) else None
    return value


def render(
    template: str, context: dict[str, Any], stage_variables: dict[str, str], body: str = ""
) -> str:
    """Substitute the template's variables. Unknown ``$context`` values render empty, as in
    API Gateway; values are inserted as text (no JSON quoting), exactly like VTL does."""

    def lookup(match: re.Match[str]) -> str:
        if match.group("fn"):
            value = _json_path(body, match.group("jp"))
            if match.group("fn") == "json":
                return json.dumps(value)
            return "" if value is None else (value if isinstance(value, str) else json.dumps(value))
        if match.group("ns") is None:
            return body
        source: Any = context if match.group("ns") == "context" else stage_variables
        for part in match.group("path").split("."):
            source = source.get(part) if isinstance(source, dict) else None
        if source is None:
            return ""
        if isinstance(source, bool):
            return "true" if source else "false"
        return str(source)

    return _VARIABLE.sub(lookup, template)


def pick_template(templates: dict[str, str], expression: str | None, body: str) -> str | None:
    """The template a template selection expression picks (``$default`` as the fallback)."""
    if not templates:
        return None
    key = selection_value(expression, body) if expression else None
    if key is not None and key in templates:
        return templates[key]
    return templates.get("$default") or (next(iter(templates.values())) if not expression else None)


def mock_response(
    integration: Any, ctx: dict[str, Any], stage_variables: dict[str, str], body: str
) -> tuple[int, str | None]:
    """A MOCK integration (``local.controlplane.Integration``): the request template yields the
    status code that selects the integration response, whose template is the reply."""
    request_template = pick_template(
        integration.request_templates, integration.template_selection_expression, body
    )
    status = 200
    if request_template is not None:
        rendered = render(request_template, ctx, stage_variables, body)
        try:
            status = int(json.loads(rendered).get("statusCode", 200))
        except (ValueError, AttributeError, TypeError):
            return 500, None
    chosen = None
    for response in integration.responses:
        key = response.key
        try:
            matches = key != "$default" and re.fullmatch(key.strip("/"), str(status))
        except re.error:
            log.error("integration response key %r is not a valid pattern", key)
            continue
        if matches:
            chosen = response
            break
    chosen = chosen or next((r for r in integration.responses if r.key == "$default"), None)
    if chosen is None:
        return status, None
    template = pick_template(chosen.templates, chosen.template_selection_expression, body)
    if template is None:
        return status, None
    return status, render(template, ctx, stage_variables, body)
