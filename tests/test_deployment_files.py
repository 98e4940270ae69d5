"""The deployment files hold together without a container engine or a cluster: the Kubernetes
manifests validate against the API schemas of pinned Kubernetes versions (kubernetes-validate,
strict), compose.yaml against the Compose specification schema that check-jsonschema ships, and
what they name of the gateway (settings, health routes, commands, ports, paths) exists."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import typer
import yaml

from gateway.cli import app as cli_app
from gateway.server import health
from gateway.server.app import create_app
from gateway.server.settings import Settings
from keys.master import MasterKey, MasterKeyError

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
KUBERNETES = ROOT / "deploy" / "kubernetes"
MANIFESTS = sorted(path for path in KUBERNETES.glob("*.yaml") if path.name != "kustomization.yaml")
# The oldest Kubernetes the manifests are meant for, and the newest kubernetes-validate 1.37 knows.
KUBERNETES_VERSIONS = ("1.30", "1.37")
COMPOSE_SCHEMA = ("--builtin-schema", "vendor.compose-spec")
PREFIX = "YIHAOTONG_"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (inside a container, as the image serves)


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def resource(kind: str) -> dict[str, Any]:
    (found,) = [doc for path in MANIFESTS for doc in load_all(path) if doc["kind"] == kind]
    return found


def pod_spec() -> dict[str, Any]:
    return resource("Deployment")["spec"]["template"]["spec"]


def containers() -> list[dict[str, Any]]:
    spec = pod_spec()
    return [*spec.get("initContainers", []), *spec["containers"]]


def gateway_container() -> dict[str, Any]:
    (found,) = [c for c in pod_spec()["containers"] if c["name"] == "gateway"]
    return found


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def dockerfile() -> dict[str, str]:
    """Each instruction's last occurrence, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.split(None, 1) for line in text.splitlines() if line and line[0] != "#"]
    return {parts[0]: parts[1] for parts in lines if len(parts) == 2}


def image_argv(arguments: list[str]) -> list[str]:
    return [*json.loads(dockerfile()["ENTRYPOINT"]), *arguments]


def parse_command(argv: list[str]) -> typer.Context:
    """Parse as the ``yihaotong`` command would, without running it: an unknown command, flag
    or value fails here."""
    assert argv[0] == "yihaotong", argv
    group: Any = typer.main.get_command(cli_app)
    command = group.get_command(typer.Context(group, info_name="yihaotong"), argv[1])
    assert command is not None, f"no command {argv[1]!r}"
    return command.make_context(argv[1], list(argv[2:]))


def route_path(endpoint: object) -> str:
    (path,) = [
        route.path
        for route in create_app(Settings()).routes
        if getattr(route, "endpoint", None) is endpoint
    ]
    return path


def setting_names(variables: dict[str, str]) -> dict[str, str]:
    assert variables, "no variables found"
    assert all(name.startswith(PREFIX) for name in variables), sorted(variables)
    return {name.removeprefix(PREFIX).lower(): value for name, value in variables.items()}


def compose_environment() -> dict[str, str]:
    return compose()["services"]["gateway"]["environment"]


def kubernetes_environment() -> dict[str, str]:
    found = dict(resource("ConfigMap")["data"])
    for container in containers():
        found |= {item["name"]: item.get("value", "") for item in container.get("env", [])}
    return found


# -- schemas ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_match_the_kubernetes_schemas(version: str) -> None:
    kinds = set()
    for path in MANIFESTS:
        for doc in load_all(path):
            # Raises on an unknown field, a wrong type, or a kind without a schema.
            kubernetes_validate.validate(doc, version, strict=True)
            kinds.add(doc["kind"])
    assert kinds == {"ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget"}


def test_kubernetes_validation_refuses_a_misspelt_field() -> None:
    deployment = resource("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSecond"] = 5
    with pytest.raises(kubernetes_validate.ValidationError, match="periodSecond"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    # The Compose specification schema vendored in check-jsonschema: nothing is fetched.
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", *COMPOSE_SCHEMA, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_compose_file_matches_the_compose_specification() -> None:
    result = check_compose(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_validation_refuses_a_misspelt_key(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        COMPOSE.read_text(encoding="utf-8").replace("stop_grace_period", "stop_grace")
    )
    result = check_compose(broken)
    assert result.returncode == 1
    assert "stop_grace" in result.stdout


def test_kustomization_applies_every_manifest_but_the_secret_template() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {path.name for path in MANIFESTS} - {"secret.yaml"}
    images = {container["image"] for container in containers()}
    assert images == {image["name"] for image in kustomization["images"]}


# -- what the files name of the gateway -------------------------------------------------------


@pytest.mark.parametrize(
    "environment", [compose_environment, kubernetes_environment], ids=["compose", "kubernetes"]
)
def test_every_variable_is_a_setting(environment: Any) -> None:
    unknown = set(setting_names(environment())) - set(Settings.model_fields)
    assert unknown == set()


def test_the_config_map_values_are_valid_settings() -> None:
    settings = Settings(**setting_names(resource("ConfigMap")["data"]))
    assert settings.issuer.startswith("https://")
    assert not [warning for warning in settings.unsafe_defaults() if "issuer" in warning]


def test_probes_use_the_gateway_health_routes() -> None:
    ready, alive = route_path(health.readyz), route_path(health.healthz)
    gateway = gateway_container()
    assert gateway["readinessProbe"]["httpGet"]["path"] == ready
    assert gateway["livenessProbe"]["httpGet"]["path"] == alive
    assert gateway["startupProbe"]["httpGet"]["path"] == alive
    check = " ".join(compose()["services"]["gateway"]["healthcheck"]["test"])
    assert f"http://127.0.0.1:8000{ready}'" in check
    assert f"http://127.0.0.1:8000{alive}'" in dockerfile()["HEALTHCHECK"]


def served_port(arguments: list[str]) -> int:
    """The port ``serve`` listens on, on every interface of the container (127.0.0.1, the
    command's default, would be out of reach of the probes and the Service)."""
    serve = parse_command(image_argv(arguments))
    assert serve.info_name == "serve"
    assert serve.params["host"] == ALL_INTERFACES
    return serve.params["port"]


def test_the_commands_are_real_commands() -> None:
    assert int(dockerfile()["EXPOSE"]) == served_port(json.loads(dockerfile()["CMD"])) == 8000
    service = compose()["services"]["gateway"]
    assert "entrypoint" not in service
    port = served_port(service["command"])
    assert service["ports"] == [f"127.0.0.1:{port}:{port}"]
    for container in containers():
        assert "command" not in container  # the image's entrypoint runs
    port = served_port(gateway_container()["args"])
    assert gateway_container()["ports"] == [{"name": "http", "containerPort": port}]
    (init,) = pod_spec()["initContainers"]
    assert parse_command(image_argv(init["args"])).info_name == "init"


def test_a_misspelt_flag_fails_to_parse() -> None:
    with pytest.raises(Exception, match="wokers"):
        parse_command(["yihaotong", "serve", "--wokers", "2"])


def test_compose_mounts_the_master_key_and_data_dir_where_the_settings_say() -> None:
    document = compose()
    service, environment = document["services"]["gateway"], compose_environment()
    (secret,) = service["secrets"]
    assert environment["YIHAOTONG_MASTER_KEY_FILE"] == f"/run/secrets/{secret}"
    assert document["secrets"][secret]["file"] == "./secrets/master.key"
    targets = [volume.split(":")[1] for volume in service["volumes"]]
    assert environment["YIHAOTONG_DATA_DIR"] in targets
    assert {"postgres", "redis"} <= set(service["depends_on"])
    assert "@postgres:5432/" in environment["YIHAOTONG_DATABASE_URL"]
    assert environment["YIHAOTONG_REDIS_URL"].startswith("redis://redis:")


def test_kubernetes_mounts_the_master_key_and_data_dir_where_the_settings_say() -> None:
    settings, volumes = resource("ConfigMap")["data"], {v["name"]: v for v in pod_spec()["volumes"]}
    key_file = PurePosixPath(settings["YIHAOTONG_MASTER_KEY_FILE"])
    secret = volumes["master-key"]["secret"]
    assert secret["secretName"] == resource("Secret")["metadata"]["name"]
    assert secret["items"] == [{"key": "master.key", "path": key_file.name}]
    for container in containers():
        mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
        assert mounts[str(key_file.parent)]["name"] == "master-key"
        assert mounts[str(key_file.parent)]["readOnly"] is True
        assert mounts[settings["YIHAOTONG_DATA_DIR"]]["name"] == "data"
        for source in container["envFrom"]:
            assert source["configMapRef"]["name"] == resource("ConfigMap")["metadata"]["name"]
        for item in container.get("env", []):
            reference = item["valueFrom"]["secretKeyRef"]
            assert reference["name"] == resource("Secret")["metadata"]["name"]
            assert reference["key"] in resource("Secret")["stringData"]


def test_the_secret_template_holds_no_usable_key(tmp_path: Path) -> None:
    placeholder = tmp_path / "master.key"
    placeholder.write_text(resource("Secret")["stringData"]["master.key"])
    with pytest.raises(MasterKeyError):
        MasterKey.from_file(placeholder)


def test_pods_run_as_the_image_user_on_a_read_only_root() -> None:
    uid, gid = (int(part) for part in dockerfile()["USER"].split(":"))
    context = pod_spec()["securityContext"]
    assert context["runAsNonRoot"] is True
    assert (context["runAsUser"], context["runAsGroup"], context["fsGroup"]) == (uid, gid, gid)
    # What the "restricted" Pod Security Standard asks of every container, and a read-only root.
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in containers():
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
    assert compose()["services"]["gateway"]["read_only"] is True


def test_the_disruption_budget_and_service_select_the_gateway_pods() -> None:
    deployment = resource("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert resource("Service")["spec"]["selector"].items() <= labels.items()
    budget = resource("PodDisruptionBudget")["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    # A budget as large as the replicas would block every node drain.
    assert 1 <= budget["minAvailable"] < deployment["spec"]["replicas"]
    assert resource("Service")["spec"]["ports"][0]["targetPort"] == "http"


def test_the_image_installs_every_package_and_real_extras() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (\w+) \./\1$", text, flags=re.M))
    assert copied == set(pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    # pip only warns about an extra the package does not have.
    (extras,) = re.findall(r"pip install [^']*'\.\[([^\]]+)\]'", text)
    known = set(pyproject()["project"]["optional-dependencies"])
    assert set(extras.split(",")) <= known - {"test"}
    assert {"postgres", "redis"} <= set(extras.split(","))
