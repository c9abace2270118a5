"""deploy/ on paper, checked: every file parses; every environment variable named there is one the project reads,
and each workload gets the ones it needs from a ConfigMap or Secret that exists; the Helm values use only keys the
charts have; the code location they name loads; the image's commands are ones the wheel installs."""

from __future__ import annotations

import importlib
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from typing import Any

import click
import dagster as dg
import typer
import yaml

from ornament_pipeline.config import ENV_OVERRIDES, WEBHOOK_SECRET_ENV
from ornament_pipeline.vendors import VENDOR_KEYS, base_url_env_var

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PACKAGE = ROOT / "ornament_pipeline"

# Variables the project reads that are not config overrides: each is checked against the package's source below.
READ_OUTSIDE_OVERRIDES = {"ENV", "CONFIG_PATH", "DAGSTER_PG_URL", "DAGSTER_HOME", "SE_OFFLINE"}
# Variables of the platform, not of the project, that the Dockerfile may set.
PLATFORM_VARIABLES = {"PYTHONUNBUFFERED"}  # CPython: logs reach Kubernetes as they are written
# What a process running project code in the cluster cannot do without, and why.
NEEDED_BY_PROJECT_CODE = {
    "DATABASE_URL": "without it a command looks for an embedded server, which no pod runs",
    "SELENIUM_REMOTE_URL": "the image has no browser: the scraper must use the Grid",
}
NEEDED_BY_THE_API = {
    "DATABASE_URL": NEEDED_BY_PROJECT_CODE["DATABASE_URL"],
    "DAGSTER_URL": "POST /api/v1/syncs launches on the webserver; the default is 127.0.0.1:3000",
}
SECRET_VARIABLES = {"DATABASE_URL", WEBHOOK_SECRET_ENV}  # a password, a key: in a Secret, never a ConfigMap

# The keys of Dagster's chart `dagster` 1.13 these values may use ("[]": an item of a list; ".*": anything below,
# a Kubernetes object the chart passes through). From the chart's pydantic schema, which generates its
# values.schema.json: helm/dagster/schema/schema/charts/dagster/values.py and subschema/{global_,postgresql,
# run_launcher,daemon,webserver,telemetry}.py, charts/dagster_user_deployments/subschema/user_deployments.py;
# run monitoring's keys from helm/dagster/templates/configmap-instance.yaml.
DAGSTER_CHART_KEYS = {
    "global.postgresqlSecretName",
    "generatePostgresqlPasswordSecret",
    "postgresql.enabled", "postgresql.postgresqlHost", "postgresql.postgresqlUsername",
    "postgresql.postgresqlDatabase", "postgresql.postgresqlParams.*", "postgresql.service.port",
    "dagster-user-deployments.enabled", "dagster-user-deployments.enableSubchart",
    *(f"dagster-user-deployments.deployments[].{key}" for key in (
        "name", "image.repository", "image.tag", "image.pullPolicy", "codeServerArgs", "dagsterApiGrpcArgs", "port",
        "includeConfigInLaunchedRuns.enabled", "envConfigMaps[].name", "envSecrets[].name", "env.*", "resources.*")),
    "runLauncher.type",
    *(f"runLauncher.config.k8sRunLauncher.{key}" for key in (
        "loadInclusterConfig", "jobNamespace", "envConfigMaps[].name", "envSecrets[].name", "envVars", "resources.*")),
    "dagsterDaemon.enabled", "dagsterDaemon.runCoordinator.enabled", "dagsterDaemon.runCoordinator.type",
    *(f"dagsterDaemon.runCoordinator.config.queuedRunCoordinator.{key}" for key in (
        "maxConcurrentRuns", "dequeueIntervalSeconds", "tagConcurrencyLimits[].key",
        "tagConcurrencyLimits[].value", "tagConcurrencyLimits[].value.applyLimitPerUniqueValue",
        "tagConcurrencyLimits[].limit")),
    "dagsterDaemon.runMonitoring.enabled", "dagsterDaemon.runMonitoring.maxResumeRunAttempts",
    "dagsterDaemon.runMonitoring.pollIntervalSeconds",
    "dagsterWebserver.replicaCount",
    "telemetry.enabled",
}
# The keys of docker-selenium's chart `selenium-grid` 0.36.5 these values may use: charts/selenium-grid/values.yaml.
SELENIUM_CHART_KEYS = {
    "isolateComponents", "hub.serviceType", "hub.port", "hub.resources.*",
    "chromeNode.enabled", "chromeNode.replicas", "chromeNode.nodeMaxSessions", "chromeNode.resources.*",
    "firefoxNode.enabled", "edgeNode.enabled", "videoRecorder.enabled",
}


# --- reading deploy/ ---------------------------------------------------------------------------------------------

def yaml_documents(deploy: Path, name: str) -> list[dict[str, Any]]:
    with (deploy / name).open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def dockerfile_instructions(deploy: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (deploy / "Dockerfile").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += stripped.removesuffix("\\").strip() + " "
        if stripped.endswith("\\"):
            continue
        word, _, rest = pending.strip().partition(" ")
        assert word.isupper(), f"deploy/Dockerfile: not an instruction: {pending.strip()!r}"
        instructions.append((word, rest.strip()))
        pending = ""
    assert not pending, "deploy/Dockerfile: ends inside a continued line"
    return instructions


def exec_form(arguments: str) -> list[str]:
    """The JSON array of a CMD or ENTRYPOINT (the exec form, the one that gets signals)."""
    argv = json.loads(arguments)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), arguments
    return argv


def key_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Every key path in a parsed YAML value, lists as `[]`: {"a": [{"b": 1}]} gives `a`, `a[].b`."""
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path
            yield from key_paths(child, path)
    elif isinstance(value, list):
        for item in value:
            yield from key_paths(item, f"{prefix}[]")


def unknown_keys(values: dict[str, Any], allowed: set[str]) -> list[str]:
    """Key paths of `values` that are neither an allowed key, nor on the way to one, nor below an allowed `.*`."""
    on_the_way = set()
    for key in allowed:
        parts = key.removesuffix(".*").split(".")
        on_the_way.update(".".join(parts[:i]).removesuffix("[]") for i in range(1, len(parts) + 1))

    def known(path: str) -> bool:
        parts = path.split(".")
        return path in on_the_way or any(".".join(parts[:i]) + ".*" in allowed for i in range(1, len(parts)))
    return sorted({path for path in key_paths(values) if not known(path)})


def manifests(deploy: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """deploy/ornaments.yaml by (kind, name)."""
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in yaml_documents(deploy, "ornaments.yaml")}


def env_sources(deploy: Path) -> dict[tuple[str, str], set[str]]:
    """The variables each ConfigMap and Secret of deploy/ornaments.yaml provides."""
    found = {}
    for (kind, name), doc in manifests(deploy).items():
        if kind == "ConfigMap":
            found[(kind, name)] = set(doc.get("data", {}))
        elif kind == "Secret":
            found[(kind, name)] = set(doc.get("stringData", {})) | set(doc.get("data", {}))
    return found


def containers(deploy: Path) -> list[dict[str, Any]]:
    return [c for (kind, _), doc in manifests(deploy).items() if kind == "Deployment"
            for c in doc["spec"]["template"]["spec"]["containers"]]


def named_variables(deploy: Path) -> dict[str, set[str]]:
    """Every environment variable named in deploy/, by file (Selenium's own containers' variables excepted)."""
    named: dict[str, set[str]] = {}
    in_manifests = set().union(*env_sources(deploy).values())
    for container in containers(deploy):
        in_manifests |= {entry["name"] for entry in container.get("env", [])}
    named["ornaments.yaml"] = in_manifests

    in_values: set[str] = set()
    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                if key == "env":
                    in_values.update(child if isinstance(child, dict) else (e["name"] for e in child))
                elif key == "envVars":
                    in_values.update(entry.split("=", 1)[0] for entry in child)
                else:
                    walk(child)
        elif isinstance(value, list):
            for item in value:
                walk(item)
    walk(yaml_documents(deploy, "dagster-values.yaml"))
    named["dagster-values.yaml"] = in_values

    in_dockerfile: set[str] = set()
    for word, arguments in dockerfile_instructions(deploy):
        if word in ("ENV", "ARG"):
            in_dockerfile.update(part.split("=", 1)[0] for part in shlex.split(arguments))
    named["Dockerfile"] = in_dockerfile
    return named


def variables_the_project_reads() -> set[str]:
    return ({name for name, _, _ in ENV_OVERRIDES} | {base_url_env_var(key) for key in VENDOR_KEYS}
            | READ_OUTSIDE_OVERRIDES)


def unknown_variables(deploy: Path) -> list[str]:
    """`file: NAME` for each variable named in deploy/ that neither the project nor the platform reads."""
    known = variables_the_project_reads()
    return sorted(f"{file}: {name}" for file, names in named_variables(deploy).items()
                  for name in names - known - (PLATFORM_VARIABLES if file == "Dockerfile" else set()))


def provided(deploy: Path, config_maps: list[dict[str, str]], secrets: list[dict[str, str]]) -> set[str]:
    """What a workload's envConfigMaps / envSecrets (or envFrom) give it; each must exist in deploy/ornaments.yaml."""
    sources = env_sources(deploy)
    names: set[str] = set()
    for kind, refs in (("ConfigMap", config_maps), ("Secret", secrets)):
        for ref in refs:
            assert (kind, ref["name"]) in sources, f"{kind} {ref['name']!r} is referenced but not in ornaments.yaml"
            names |= sources[(kind, ref["name"])]
    return names


def missing_variables(deploy: Path) -> list[str]:
    """`workload: NAME (why)` for each variable a workload needs and does not get."""
    values = yaml_documents(deploy, "dagster-values.yaml")[0]
    workloads: list[tuple[str, set[str], dict[str, str]]] = []
    for deployment in values["dagster-user-deployments"]["deployments"]:
        gets = provided(deploy, deployment.get("envConfigMaps", []), deployment.get("envSecrets", []))
        workloads.append((f"code location {deployment['name']}", gets, NEEDED_BY_PROJECT_CODE))
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    workloads.append(("runs (k8sRunLauncher)", provided(deploy, launcher.get("envConfigMaps", []),
                                                        launcher.get("envSecrets", [])), NEEDED_BY_PROJECT_CODE))
    for container in containers(deploy):
        env_from = container.get("envFrom", [])
        gets = provided(deploy, [e["configMapRef"] for e in env_from if "configMapRef" in e],
                        [e["secretRef"] for e in env_from if "secretRef" in e])
        gets |= {entry["name"] for entry in container.get("env", [])}
        workloads.append((f"container {container['name']}", gets, NEEDED_BY_THE_API))
    return [f"{workload}: {name} ({why})" for workload, gets, needed in workloads
            for name, why in needed.items() if name not in gets]


# --- the checks ----------------------------------------------------------------------------------------------------

def test_every_file_in_deploy_parses() -> None:
    for path in sorted(DEPLOY.iterdir()):
        assert path.suffix == ".yaml" or path.name in {"Dockerfile", "README.md"}, \
            f"deploy/{path.name}: a file this test does not know how to check"
        if path.suffix == ".yaml":
            assert yaml_documents(DEPLOY, path.name), f"deploy/{path.name} is empty"
    assert dockerfile_instructions(DEPLOY)[0][0] == "FROM"
    for (kind, name), doc in manifests(DEPLOY).items():
        assert doc["apiVersion"] in {"v1", "apps/v1"}, (kind, name)


def test_the_extra_variables_are_read_by_the_package() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))
    for name in READ_OUTSIDE_OVERRIDES:
        assert f'"{name}"' in source, f"{name} is listed as read by the project, but no module names it"


def test_every_variable_named_in_deploy_is_one_the_project_reads() -> None:
    assert unknown_variables(DEPLOY) == []


def test_every_workload_gets_what_it_needs_and_secrets_stay_secret() -> None:
    assert missing_variables(DEPLOY) == []
    for (kind, name), names in env_sources(DEPLOY).items():
        if kind == "ConfigMap":
            assert not names & SECRET_VARIABLES, f"ConfigMap {name} holds {names & SECRET_VARIABLES}: use the Secret"


def test_a_misspelt_or_missing_variable_is_named(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy)
    text = (deploy / "ornaments.yaml").read_text()
    (deploy / "ornaments.yaml").write_text(text.replace("SELENIUM_REMOTE_URL:", "SELENIUM_REMOTE_ULR:"))
    assert unknown_variables(deploy) == ["ornaments.yaml: SELENIUM_REMOTE_ULR"]
    assert missing_variables(deploy) == [
        f"code location ornament-pipeline: SELENIUM_REMOTE_URL ({NEEDED_BY_PROJECT_CODE['SELENIUM_REMOTE_URL']})",
        f"runs (k8sRunLauncher): SELENIUM_REMOTE_URL ({NEEDED_BY_PROJECT_CODE['SELENIUM_REMOTE_URL']})"]


def test_the_helm_values_use_only_keys_the_charts_have() -> None:
    assert unknown_keys(yaml_documents(DEPLOY, "dagster-values.yaml")[0], DAGSTER_CHART_KEYS) == []
    assert unknown_keys(yaml_documents(DEPLOY, "selenium-grid-values.yaml")[0], SELENIUM_CHART_KEYS) == []
    # ...and the check can fail: a key the chart does not have.
    assert unknown_keys({"runLauncher": {"type": "K8sRunLauncher", "k8sRunLauncher": {}}}, DAGSTER_CHART_KEYS) \
        == ["runLauncher.k8sRunLauncher"]


def test_the_chart_version_is_the_locked_dagster() -> None:
    header = (DEPLOY / "dagster-values.yaml").read_text()
    assert f"--version {metadata.version('dagster')} " in header
    assert re.search(r"^dagster==" + re.escape(metadata.version("dagster")) + " ",
                     (ROOT / "requirements.lock").read_text(), re.M)


def test_the_run_limits_are_the_packaged_instance_limits() -> None:
    instance = yaml.safe_load(files("ornament_pipeline").joinpath("dagster.yaml").read_text())
    daemon = yaml_documents(DEPLOY, "dagster-values.yaml")[0]["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    assert queued["tagConcurrencyLimits"] == instance["concurrency"]["runs"]["tag_concurrency_limits"]
    assert queued["dequeueIntervalSeconds"] == instance["run_queue"]["dequeue_interval_seconds"]
    monitoring = daemon["runMonitoring"]
    assert (monitoring["enabled"], monitoring["maxResumeRunAttempts"], monitoring["pollIntervalSeconds"]) == (
        instance["run_monitoring"]["enabled"], instance["run_monitoring"]["max_resume_run_attempts"],
        instance["run_monitoring"]["poll_interval_seconds"])


def _option(args: list[str], *names: str) -> str:
    for i, arg in enumerate(args[:-1]):
        if arg in names:
            return args[i + 1]
    raise AssertionError(f"none of {names} in {args}")


def test_the_code_location_named_loads() -> None:
    values = yaml_documents(DEPLOY, "dagster-values.yaml")[0]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    module_name = _option(deployment["codeServerArgs"], "-m", "--module-name")
    location = _option(deployment["codeServerArgs"], "--location-name")
    assert isinstance(importlib.import_module(module_name).defs, dg.Definitions)
    workspace = yaml.safe_load(files("ornament_pipeline").joinpath("workspace.yaml").read_text())
    assert workspace["load_from"] == [{"python_module": {"module_name": module_name, "location_name": location}}]
    cmd = exec_form(dict(dockerfile_instructions(DEPLOY))["CMD"])
    assert _option(cmd, "-m", "--module-name") == module_name


def _console_scripts() -> dict[str, str]:
    """Console scripts the image has: the wheel's own and those of every distribution in requirements.lock."""
    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()
    locked = {norm(m) for m in re.findall(r"^([A-Za-z0-9_.-]+)==", (ROOT / "requirements.lock").read_text(), re.M)}
    scripts = {}
    for dist in metadata.distributions():
        if norm(dist.metadata["Name"]) in locked:
            scripts.update({ep.name: dist.metadata["Name"] for ep in dist.entry_points
                            if ep.group == "console_scripts"})
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    scripts.update(dict.fromkeys(project["scripts"], project["name"]))
    return scripts


def test_the_image_installs_the_lock_then_the_wheel_and_runs_commands_it_has() -> None:
    instructions = dockerfile_instructions(DEPLOY)
    runs = [arguments for word, arguments in instructions if word == "RUN"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    wheel = f"ornament_pipeline-{version}-py3-none-any.whl"
    lock_step = next(i for i, r in enumerate(runs) if "-r /tmp/requirements.lock" in r)
    wheel_step = next(i for i, r in enumerate(runs) if f"/tmp/{wheel}" in r)
    assert lock_step < wheel_step
    assert all(flag in runs[lock_step] for flag in ("--no-deps", "--require-hashes"))
    assert "--no-deps" in runs[wheel_step]
    assert ("COPY", f"dist/{wheel} /tmp/") in instructions
    # No ENTRYPOINT: the chart's args (`dagster code-server start ...`) and ornaments.yaml's command are whole.
    assert "ENTRYPOINT" not in dict(instructions)
    scripts = _console_scripts()
    cmd = exec_form(dict(instructions)["CMD"])
    for command in (cmd[0], "dagster"):  # "dagster": what the chart runs in the code location's container
        assert command in scripts, f"{command}: no installed distribution of the lock or the wheel provides it"
    # Every flag given to `dagster code-server start` (by CMD and by the chart values) is one it has.
    values = yaml_documents(DEPLOY, "dagster-values.yaml")[0]
    flags = {a for a in cmd[3:] + values["dagster-user-deployments"]["deployments"][0]["codeServerArgs"]
             if a.startswith("-")}
    helped = subprocess.run([str(Path(sys.executable).parent / "dagster"), *cmd[1:3], "--help"],
                            capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0, helped.stderr
    assert {f for f in flags if not re.search(rf"(^|[\s,]){re.escape(f)}[\s,]", helped.stdout)} == set()


def test_the_api_container_runs_an_ornaments_command_that_parses() -> None:
    from ornament_pipeline.cli import app

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    scripts = _console_scripts()
    values = yaml_documents(DEPLOY, "dagster-values.yaml")[0]
    image = values["dagster-user-deployments"]["deployments"][0]["image"]
    assert image["tag"] == version
    for container in containers(DEPLOY):
        assert container["image"] == f"{image['repository']}:{version}", "one image, the wheel's version"
        argv = container["command"]
        assert scripts.get(argv[0]) == "ornament_pipeline", argv
        command, args = typer.main.get_command(app), list(argv[1:])
        while isinstance(command, click.Group):  # down the sub-commands (the groups take no options of their own)
            name, found, args = command.resolve_command(click.Context(command), args)
            assert found is not None and name is not None, f"ornaments has no command {args[0]!r}"
            command = found
        command.make_context(argv[0], args).close()  # parses the options: an unknown one or a bad value raises


def test_the_service_urls_are_those_of_the_releases() -> None:
    grid = yaml_documents(DEPLOY, "selenium-grid-values.yaml")[0]
    assert "helm upgrade --install selenium " in (DEPLOY / "selenium-grid-values.yaml").read_text()
    config = manifests(DEPLOY)[("ConfigMap", "ornaments-config")]["data"]
    assert config["SELENIUM_REMOTE_URL"] == f"http://selenium-hub:{grid['hub']['port']}"
    assert "helm upgrade --install dagster " in (DEPLOY / "dagster-values.yaml").read_text()
    assert config["DAGSTER_URL"] == "http://dagster-dagster-webserver:80"  # the chart's Service for release `dagster`
