"""Security review item 9: the authorizer's layer is installed from a fully pinned, hashed
dependency set (pip --require-hashes), so a compromised index cannot change what runs there."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "functions" / "requirements.txt"
# What Lambda's Linux CPython evaluates environment markers as.
LAMBDA = {"platform_python_implementation": "CPython", "sys_platform": "linux", "os_name": "posix"}


def pinned() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of functions/requirements.txt."""
    text = re.sub(r"\\\n", " ", REQUIREMENTS.read_text())
    found: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *options = line.split(" --hash=")
        requirement = Requirement(spec.strip())
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{requirement.name} must be pinned with =="
        hashes = [o.strip() for o in options]
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), line
        found[canonicalize_name(requirement.name)] = (specifier.version, hashes)
    return found


def test_every_requirement_is_pinned_with_hashes() -> None:
    pins = pinned()
    assert {"pyjwt", "cryptography"} <= set(pins)


def test_the_whole_dependency_set_is_pinned() -> None:
    """Closed under dependencies (PyJWT with its `crypto` extra, as the authorizer needs it):
    --require-hashes would otherwise fail, or worse, an unpinned package would slip in."""
    pins = pinned()
    todo = [("pyjwt", {"crypto"})]
    seen: set[str] = set()
    while todo:
        name, extras = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        assert name in pins, f"{name} is a dependency of the layer but not pinned"
        for raw in metadata.requires(name) or []:
            requirement = Requirement(raw)
            environments = [{**LAMBDA, "extra": e} for e in extras or {""}]
            if requirement.marker is None or any(
                requirement.marker.evaluate(env) for env in environments
            ):
                todo.append((canonicalize_name(requirement.name), set(requirement.extras)))
    assert seen == set(pins), f"pinned but not needed: {set(pins) - seen}"


def test_the_dev_environment_runs_the_pinned_versions() -> None:
    # The unit and end-to-end tests exercise exactly what the layer ships.
    for name, (version, _) in pinned().items():
        assert metadata.version(name) == version, name


def test_the_layer_build_requires_hashes() -> None:
    package = (REPO / "package.tf").read_text()
    command = re.search(r"command\s*=\s*<<-EOT(.*?)EOT", package, re.S)
    assert command is not None
    assert re.search(r"pip install .*--require-hashes", " ".join(command.group(1).split()))
