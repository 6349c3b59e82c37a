#!/usr/bin/env python3
"""The checks of scripts/validate-deploy.sh that no off-the-shelf tool does.

Run by validate-deploy.sh with the Python of its tool environment (PyYAML and jsonschema
installed). Subcommands:

  kubernetes OUT   checks deploy/kubernetes (the kustomization's files, what refers to
                   what, the probes against worker.yaml) and writes OUT/rendered.yaml: the
                   resources as `kubectl apply -k` would send them (namespace, image,
                   generated ConfigMap and Secret), for kubernetes-validate.
  keda             checks deploy/kubernetes/keda against the JSON schemas next to this file
                   and against the base: the Deployment it scales, the consumer group,
                   topic and queue of worker.yaml, the Secret keys it reads.
  compose          checks what compose.yaml refers to (mounted files, build context,
                   dependencies, healthchecks, topics) beyond the compose-spec schema.
  dockerfile       checks the Dockerfile against Package.swift (Swift version) and the
                   operations port.
  env FILE         prints NAME=VALUE for every ${NAME} without a default in a worker.yaml
                   under deploy/, with the example value its deployment supplies (for
                   `idem check-config`), and fails when a variable has no source.

Every failure is one line "FILE: what is wrong"; the exit code is 1 if there was any.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
KEDA = K8S / "keda"
SCHEMAS = Path(__file__).resolve().parent

problems: list[str] = []


def problem(path: Path | str, message: str) -> None:
    where = os.path.relpath(path, ROOT) if isinstance(path, Path) else path
    line = f"{where}: {message}"
    if line not in problems:
        problems.append(line)


def load_all(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def load_one(path: Path) -> dict:
    docs = load_all(path)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        problem(path, f"expected one YAML mapping, found {len(docs)} documents")
        return {}
    return docs[0]


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as kustomize's `envs:` and systemd's EnvironmentFile read them."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            problem(path, f"line {number}: expected NAME=VALUE, got {line!r}")
            continue
        values[name] = value
    return values


INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")


def required_variables(worker_yaml: Path) -> list[str]:
    """The ${NAME} references without a default in a worker.yaml's values (not comments)."""
    names: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            for match in INTERPOLATION.finditer(node):
                if match.group(1) and match.group(2) is None and match.group(1) not in names:
                    names.append(match.group(1))

    walk(load_one(worker_yaml))
    return names


def duration_seconds(text: object) -> float | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", str(text).strip())
    if not match:
        return None
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * scale


def listen_port(worker: dict) -> tuple[str, int]:
    listen = str(worker.get("metrics", {}).get("listen", "127.0.0.1:9464"))
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def worker_consumers(worker: dict, kind: str) -> list[dict]:
    return [c for c in worker.get("consumers", []) if kind in c.get("source", {})]


# ---------------------------------------------------------------------------------------
# Kubernetes


def kustomization(directory: Path) -> dict:
    path = directory / "kustomization.yaml"
    if not path.is_file():
        problem(directory, "no kustomization.yaml")
        return {}
    return load_one(path)


def env_file_of(directory: Path, name: str) -> Path:
    """secrets.env is the operator's and ignored by git; the example stands in for it."""
    path = directory / name
    if path.is_file():
        return path
    example = directory / f"{name}.example"
    if not example.is_file():
        problem(directory / name, f"missing, and so is {example.name}")
    return example


def containers(spec: dict) -> list[dict]:
    pod = spec.get("template", {}).get("spec", {})
    return pod.get("initContainers", []) + pod.get("containers", [])


def check_kubernetes(out: Path) -> None:
    kust = kustomization(K8S)
    namespace = kust.get("namespace")
    if not namespace:
        problem(K8S / "kustomization.yaml", "no namespace: the resources would land in the default namespace")
    rendered: list[dict] = []
    for name in kust.get("resources", []):
        path = K8S / name
        if not path.is_file():
            problem(K8S / "kustomization.yaml", f"resource {name} does not exist")
            continue
        for doc in load_all(path):
            rendered.append(doc)
    listed = set(kust.get("resources", []))
    for path in sorted(K8S.glob("*.yaml")):
        if path.name not in listed | {"kustomization.yaml", "worker.yaml"}:
            problem(path, "not listed in kustomization.yaml resources")

    # The generators, as kustomize would write them.
    generated_names: dict[tuple[str, str], str] = {}
    worker_path = None
    for generator in kust.get("configMapGenerator", []):
        data = {}
        for entry in generator.get("files", []):
            key, _, source = entry.partition("=") if "=" in entry else (Path(entry).name, "", entry)
            path = K8S / source
            if not path.is_file():
                problem(K8S / "kustomization.yaml", f"configMapGenerator file {source} does not exist")
                continue
            data[key] = path.read_text(encoding="utf-8")
            if key == "worker.yaml":
                worker_path = path
        suffix = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]
        name = generator["name"] + ("" if generator.get("options", {}).get("disableNameSuffixHash") else f"-{suffix}")
        generated_names[("ConfigMap", generator["name"])] = name
        rendered.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
    secret_keys: dict[str, set[str]] = {}
    for generator in kust.get("secretGenerator", []):
        data = {}
        for entry in generator.get("envs", []):
            data.update(read_env_file(env_file_of(K8S, entry)))
        secret_keys[generator["name"]] = set(data)
        name = generator["name"]
        if not generator.get("options", {}).get("disableNameSuffixHash"):
            name += "-" + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]
        generated_names[("Secret", generator["name"])] = name
        rendered.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": name},
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
            }
        )
    if worker_path is None:
        problem(K8S / "kustomization.yaml", "no configMapGenerator with worker.yaml")
        return
    worker = load_one(worker_path)

    images = {i["name"]: i for i in kust.get("images", [])}
    by_kind: dict[str, list[dict]] = {}
    for doc in rendered:
        by_kind.setdefault(doc.get("kind", "?"), []).append(doc)
        if doc.get("kind") != "Namespace" and namespace:
            doc.setdefault("metadata", {})["namespace"] = namespace
        if doc.get("kind") in ("Deployment", "Job"):
            pod = doc["spec"]["template"]["spec"]
            for container in pod.get("initContainers", []) + pod.get("containers", []):
                image = images.get(container.get("image", ""))
                if image:
                    container["image"] = f"{image.get('newName', container['image'])}:{image.get('newTag', 'latest')}"
                for source in container.get("envFrom", []):
                    ref = source.get("secretRef", {}).get("name")
                    if ref and ("Secret", ref) in generated_names:
                        source["secretRef"]["name"] = generated_names[("Secret", ref)]
                    elif ref:
                        problem(K8S, f"{doc['kind']} {doc['metadata']['name']}: envFrom names Secret {ref}, which the kustomization does not generate")
            for volume in pod.get("volumes", []):
                ref = volume.get("configMap", {}).get("name")
                if ref and ("ConfigMap", ref) in generated_names:
                    volume["configMap"]["name"] = generated_names[("ConfigMap", ref)]
                elif ref:
                    problem(K8S, f"{doc['kind']} {doc['metadata']['name']}: volume {volume['name']} names ConfigMap {ref}, which the kustomization does not generate")

    variables = required_variables(worker_path)
    all_secret_keys = set().union(*secret_keys.values()) if secret_keys else set()
    # Variables a container sets itself (env: value or valueFrom, e.g. the pod's name).
    container_env = {
        variable["name"]
        for doc in rendered if doc.get("kind") == "Deployment"
        for container in doc["spec"]["template"]["spec"].get("containers", [])
        for variable in container.get("env", []) or []
    }
    for name in variables:
        if name not in all_secret_keys and name not in container_env:
            problem(worker_path, f"${{{name}}} is not a key of the generated Secret (secrets.env.example)")

    host, port = listen_port(worker)
    grace = duration_seconds(worker.get("shutdown", {}).get("grace_period", "30s")) or 30
    deployments = by_kind.get("Deployment", [])
    if len(deployments) != 1:
        problem(K8S, f"expected one Deployment, found {len(deployments)}")
    for deployment in deployments:
        where = f"{K8S.relative_to(ROOT)}/deployment.yaml"
        spec = deployment["spec"]
        selector = spec.get("selector", {}).get("matchLabels", {})
        labels = spec["template"]["metadata"].get("labels", {})
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            problem(where, "the selector does not match the pod template's labels")
        for pdb in by_kind.get("PodDisruptionBudget", []):
            pdb_selector = pdb["spec"].get("selector", {}).get("matchLabels", {})
            if any(labels.get(k) != v for k, v in pdb_selector.items()):
                problem(f"{K8S.relative_to(ROOT)}/poddisruptionbudget.yaml", "its selector does not match the Deployment's pods")
        pod = spec["template"]["spec"]
        period = pod.get("terminationGracePeriodSeconds", 30)
        if period < grace + 5:
            problem(where, f"terminationGracePeriodSeconds {period} leaves no time after shutdown.grace_period {grace:g} s + 5 s of cancellation")
        if host not in ("0.0.0.0", "::", ""):
            problem(worker_path, f"metrics.listen binds {host}: the kubelet's probes cannot reach it (use 0.0.0.0:{port})")
        for container in pod.get("containers", []):
            ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
            for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
                probe = container.get(probe_name)
                if not probe:
                    continue
                target = probe.get("httpGet", {}).get("port")
                number = ports.get(target, target)
                if number != port:
                    problem(where, f"{probe_name} goes to port {target} ({number}), metrics.listen is port {port}")
            for path in (container.get("livenessProbe", {}).get("httpGet", {}).get("path"),
                         container.get("readinessProbe", {}).get("httpGet", {}).get("path")):
                if path not in ("/healthz", "/readyz"):
                    problem(where, f"probe path {path}: idem answers /healthz (liveness) and /readyz (readiness)")
        check_config_mount(where, deployment)
    for job in by_kind.get("Job", []):
        check_config_mount(f"{K8S.relative_to(ROOT)}/{job['metadata']['name']}", job)

    out.mkdir(parents=True, exist_ok=True)
    with (out / "rendered.yaml").open("w", encoding="utf-8") as f:
        yaml.safe_dump_all(rendered, f, sort_keys=False)


def check_config_mount(where: str, workload: dict) -> None:
    pod = workload["spec"]["template"]["spec"]
    config_volumes = {v["name"] for v in pod.get("volumes", []) if "configMap" in v}
    for container in pod.get("containers", []):
        args = container.get("args", [])
        config = args[args.index("--config") + 1] if "--config" in args else None
        if config is None:
            problem(where, f"container {container['name']}: no --config argument")
            continue
        mounts = [m for m in container.get("volumeMounts", []) if m["name"] in config_volumes]
        if not any(config == f"{m['mountPath'].rstrip('/')}/worker.yaml" for m in mounts):
            problem(where, f"container {container['name']}: --config {config} is not the worker.yaml of a mounted ConfigMap")
        security = container.get("securityContext", {})
        if security.get("allowPrivilegeEscalation") is not False or "ALL" not in security.get("capabilities", {}).get("drop", []):
            problem(where, f"container {container['name']}: not restricted (allowPrivilegeEscalation false, drop ALL)")


# ---------------------------------------------------------------------------------------
# KEDA


def check_keda() -> None:
    kust = kustomization(KEDA)
    schemas = {
        "ScaledObject": json.loads((SCHEMAS / "keda-scaledobject.schema.json").read_text()),
        "TriggerAuthentication": json.loads((SCHEMAS / "keda-triggerauthentication.schema.json").read_text()),
    }
    objects: dict[str, list[tuple[Path, dict]]] = {}
    for name in kust.get("resources", []):
        path = KEDA / name
        if not path.is_file():
            problem(KEDA / "kustomization.yaml", f"resource {name} does not exist")
            continue
        for doc in load_all(path):
            kind = doc.get("kind")
            schema = schemas.get(kind)
            if schema is None:
                problem(path, f"kind {kind}: the KEDA examples hold ScaledObjects and TriggerAuthentications only")
                continue
            validator = jsonschema.Draft202012Validator(schema)
            for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
                location = ".".join(str(p) for p in error.absolute_path) or "(top)"
                problem(path, f"{kind} {doc.get('metadata', {}).get('name')}: {location}: {error.message}")
            objects.setdefault(kind, []).append((path, doc))

    base = kustomization(K8S)
    deployments = [d for r in base.get("resources", []) if (K8S / r).is_file() for d in load_all(K8S / r) if d.get("kind") == "Deployment"]
    deployment_names = {d["metadata"]["name"] for d in deployments}
    worker = load_one(K8S / "worker.yaml")
    secrets: dict[str, set[str]] = {}
    for generator in base.get("secretGenerator", []):
        keys: set[str] = set()
        for entry in generator.get("envs", []):
            keys |= set(read_env_file(env_file_of(K8S, entry)))
        secrets[generator["name"]] = keys
    auths = {doc["metadata"]["name"]: doc for _, doc in objects.get("TriggerAuthentication", [])}
    for path, auth in objects.get("TriggerAuthentication", []):
        for ref in auth.get("spec", {}).get("secretTargetRef", []):
            if ref["name"] not in secrets:
                problem(path, f"secretTargetRef names Secret {ref['name']}, which deploy/kubernetes does not generate")
            elif ref["key"] not in secrets[ref["name"]]:
                problem(path, f"secretTargetRef key {ref['key']} is not in the Secret {ref['name']} (secrets.env.example)")

    kafka = worker_consumers(worker, "kafka")
    amqp = worker_consumers(worker, "amqp")
    for path, scaled in objects.get("ScaledObject", []):
        spec = scaled.get("spec", {})
        target = spec.get("scaleTargetRef", {}).get("name")
        if target not in deployment_names:
            problem(path, f"scaleTargetRef {target} is not a Deployment of deploy/kubernetes ({', '.join(sorted(deployment_names))})")
        low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        if low > high:
            problem(path, f"minReplicaCount {low} > maxReplicaCount {high}")
        if spec.get("fallback", {}).get("replicas", low) > high:
            problem(path, "fallback.replicas is above maxReplicaCount")
        for trigger in spec.get("triggers", []):
            meta = trigger.get("metadata", {})
            ref = trigger.get("authenticationRef", {}).get("name")
            if ref and ref not in auths:
                problem(path, f"trigger {trigger.get('name')}: authenticationRef {ref} is not a TriggerAuthentication of keda/")
            if trigger.get("type") == "kafka":
                matches = [c for c in kafka if c["source"]["kafka"].get("group") == meta.get("consumerGroup")]
                if not matches:
                    problem(path, f"trigger {trigger.get('name')}: consumerGroup {meta.get('consumerGroup')} is no Kafka consumer's group in worker.yaml")
                    continue
                source = matches[0]["source"]["kafka"]
                if meta.get("topic") and meta["topic"] not in source.get("topics", []):
                    problem(path, f"trigger {trigger.get('name')}: topic {meta['topic']} is not consumed by group {meta['consumerGroup']}")
                if meta.get("bootstrapServers") and set(meta["bootstrapServers"].split(",")) != set(str(source.get("brokers", "")).split(",")):
                    problem(path, f"trigger {trigger.get('name')}: bootstrapServers differ from the consumer's brokers")
            elif trigger.get("type") == "rabbitmq":
                queues = {c["source"]["amqp"].get("queue") for c in amqp}
                if meta.get("queueName") not in queues:
                    problem(path, f"trigger {trigger.get('name')}: queueName {meta.get('queueName')} is no RabbitMQ consumer's queue in worker.yaml")
                host = meta.get("host")
                if host:
                    hosts = {urlsplit(c["source"]["amqp"]["url"]).hostname for c in amqp}
                    if urlsplit(host).hostname not in hosts:
                        problem(path, f"trigger {trigger.get('name')}: host {urlsplit(host).hostname} is not the RabbitMQ host of worker.yaml")


# ---------------------------------------------------------------------------------------
# Compose


def check_compose() -> None:
    path = DEPLOY / "compose.yaml"
    compose = load_one(path)
    services = compose.get("services", {})
    base = path.parent
    for name, service in services.items():
        build = service.get("build")
        if build:
            context = (base / build.get("context", ".")).resolve()
            if not (context / build.get("dockerfile", "Dockerfile")).is_file():
                problem(path, f"service {name}: no Dockerfile at {build.get('dockerfile')} in {context}")
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith((".", "/")) and not (base / source).exists():
                problem(path, f"service {name}: bind-mounted {source} does not exist")
            elif not source.startswith((".", "/")) and source not in (compose.get("volumes") or {}):
                problem(path, f"service {name}: volume {source} is not declared under volumes:")
        for dependency, condition in (service.get("depends_on") or {}).items():
            other = services.get(dependency)
            if other is None:
                problem(path, f"service {name}: depends on {dependency}, which is not a service")
                continue
            wanted = condition.get("condition") if isinstance(condition, dict) else "service_started"
            if wanted == "service_healthy" and not other.get("healthcheck"):
                problem(path, f"service {name}: waits for {dependency} to be healthy, which has no healthcheck")
            if wanted == "service_completed_successfully" and other.get("restart", "no") != "no":
                problem(path, f"service {name}: waits for {dependency} to complete, which restarts")

    worker_service = services.get("worker", {})
    mounts = [str(v).split(":") for v in worker_service.get("volumes", [])]
    configs = [base / m[0] for m in mounts if len(m) >= 2 and m[1].endswith("worker.yaml")]
    if not configs:
        problem(path, "service worker: no worker.yaml mounted")
        return
    worker_path = configs[0]
    worker = load_one(worker_path)
    command = worker_service.get("command", [])
    if "--config" not in command or not any(m[1] == command[command.index("--config") + 1] for m in mounts if len(m) >= 2):
        problem(path, "service worker: --config is not the mounted worker.yaml")
    grace = duration_seconds(worker.get("shutdown", {}).get("grace_period", "30s")) or 30
    stop = duration_seconds(worker_service.get("stop_grace_period", "10s")) or 10
    if stop < grace + 5:
        problem(path, f"service worker: stop_grace_period {stop:g} s is not above shutdown.grace_period {grace:g} s + 5 s")
    host, port = listen_port(worker)
    if host not in ("0.0.0.0", "::", ""):
        problem(worker_path, f"metrics.listen binds {host}: the healthcheck and published ports cannot reach it")
    published = [str(p) for p in worker_service.get("ports", [])]
    if not any(p.rsplit(":", 1)[-1] == str(port) for p in published):
        problem(path, f"service worker: container port {port} (metrics.listen) is not published")
    # Every host the worker connects to is a service of the stack.
    urls = [worker.get("postgres", {}).get("url", "")]
    urls += [c["source"]["amqp"]["url"] for c in worker_consumers(worker, "amqp")]
    hosts = {urlsplit(u).hostname for u in urls if u}
    for c in worker_consumers(worker, "kafka"):
        hosts |= {b.rsplit(":", 1)[0] for b in str(c["source"]["kafka"]["brokers"]).split(",")}
    for host_name in sorted(h for h in hosts if h):
        if host_name not in services:
            problem(worker_path, f"host {host_name} is not a service of compose.yaml")
    # The topics exist: kafka-init creates them (the broker does not create topics).
    init = " ".join(str(c) for c in (services.get("kafka-init", {}).get("command") or []))
    for c in worker_consumers(worker, "kafka"):
        source = c["source"]["kafka"]
        for topic in source.get("topics", []) + [source.get("dead_letter_topic") or f"{t}.dlq" for t in source.get("topics", [])]:
            if not re.search(rf"--topic {re.escape(topic)}(\s|$)", init):
                problem(path, f"kafka-init does not create topic {topic} (consumer {c['name']})")


# ---------------------------------------------------------------------------------------
# Dockerfile


def check_dockerfile() -> None:
    path = DEPLOY / "docker" / "Dockerfile"
    text = path.read_text(encoding="utf-8")
    tools = re.search(r"swift-tools-version:\s*(\d+)\.(\d+)", (ROOT / "Package.swift").read_text(encoding="utf-8"))
    image = re.search(r"^ARG SWIFT_IMAGE=swift:(\d+)\.(\d+)(?:\.\d+)?-(\w+)", text, re.M)
    runtime = re.search(r"^ARG RUNTIME_IMAGE=debian:(\w+)-slim", text, re.M)
    if not (tools and image and runtime):
        problem(path, "expected ARG SWIFT_IMAGE=swift:X.Y-CODENAME and ARG RUNTIME_IMAGE=debian:CODENAME-slim")
        return
    if (int(image[1]), int(image[2])) < (int(tools[1]), int(tools[2])):
        problem(path, f"swift:{image[1]}.{image[2]} is older than Package.swift's swift-tools-version {tools[1]}.{tools[2]}")
    if image[3] != runtime[1]:
        problem(path, f"the builder is {image[3]}, the runtime {runtime[1]}: the C libraries would differ")
    for package in ("librabbitmq4", "libpq5"):
        if not re.search(rf"\b{package}\b", text):
            problem(path, f"the runtime does not install {package}")
    # librdkafka: a current one from the confluent-kafka wheel, not Debian's 2.0.2.
    wheel = re.search(r"^ARG CONFLUENT_KAFKA_VERSION=(\d+)\.(\d+)", text, re.M)
    if not wheel or (int(wheel[1]), int(wheel[2])) < (2, 16):
        problem(path, "expected ARG CONFLUENT_KAFKA_VERSION=X.Y with X.Y at least 2.16 (the librdkafka idem is tested on)")
    if not re.search(r"^COPY --from=librdkafka /staging/ /", text, re.M) or "/usr/local/lib/librdkafka.so.1" not in text:
        problem(path, "the runtime does not get librdkafka.so.1 from the librdkafka stage")
    if not re.search(r"^USER (?!root|0\b)", text, re.M):
        problem(path, "no non-root USER")
    if not re.search(r'^ENTRYPOINT \["idem"\]', text, re.M):
        problem(path, 'ENTRYPOINT is not ["idem"]')
    if "/healthz" not in text or not re.search(r"^EXPOSE 9464\b", text, re.M):
        problem(path, "expected a HEALTHCHECK on /healthz and EXPOSE 9464")
    # An exec-form array that is not valid JSON is silently run as a shell command string.
    instructions = re.sub(r"\\\n\s*", " ", text)
    for line in instructions.splitlines():
        match = re.match(r"^(ENTRYPOINT|CMD|HEALTHCHECK\s.*?CMD)\s+(\[.*)$", line)
        if match:
            try:
                argv = json.loads(match.group(2))
                if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
                    raise ValueError("not a list of strings")
            except ValueError as error:
                problem(path, f"{match.group(1).split()[0]}: the exec form is not a JSON array of strings ({error})")


# ---------------------------------------------------------------------------------------
# Environment for `idem check-config`


def print_env(worker_path: Path) -> None:
    """Example values for a worker.yaml's variables, from the deployment that sets them."""
    worker_path = worker_path.resolve()
    sources: dict[str, str] = {}
    if worker_path.parent == K8S:
        for generator in kustomization(K8S).get("secretGenerator", []):
            for entry in generator.get("envs", []):
                sources.update(read_env_file(env_file_of(K8S, entry)))
        # Variables the Deployment sets itself: a value, or the pod's own name and the like.
        for doc in load_all(K8S / "deployment.yaml"):
            for container in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
                for variable in container.get("env", []) or []:
                    if "value" in variable:
                        sources[variable["name"]] = str(variable["value"])
                    elif "fieldRef" in (variable.get("valueFrom") or {}):
                        field = variable["valueFrom"]["fieldRef"].get("fieldPath", "")
                        sources[variable["name"]] = "idem-5c9d7b6f4-x2x7q" if field == "metadata.name" else "example"
    elif worker_path.parent == DEPLOY / "compose":
        compose = load_one(DEPLOY / "compose.yaml")
        for service in compose.get("services", {}).values():
            environment = service.get("environment") or {}
            if isinstance(environment, list):
                environment = dict(item.split("=", 1) for item in environment)
            for name, value in environment.items():
                # Compose's own ${VAR:-default}: the default is what the stack uses.
                match = re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", str(value))
                sources[name] = match.group(1) if match else str(value)
    for name in required_variables(worker_path):
        if name not in sources:
            problem(worker_path, f"${{{name}}} is set by nothing in its deployment")
        else:
            print(f"{name}={sources[name]}")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command = argv[1]
    if command == "kubernetes" and len(argv) == 3:
        check_kubernetes(Path(argv[2]))
    elif command == "keda":
        check_keda()
    elif command == "compose":
        check_compose()
    elif command == "dockerfile":
        check_dockerfile()
    elif command == "env" and len(argv) == 3:
        print_env(Path(argv[2]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
