#!/usr/bin/python3
"""Static checks of the container and Kubernetes deployment against the server's options.

    deploy_check.py [--bin BIN_DIR]    run every check (exit 1 on any failure)
    deploy_check.py --table            print the README "Configuration" table

The server's options are read from their one definition, the table in server/options.cpp
(cross-checked with `ternserve --help` when --bin is given); defaults from
config/ternserve.json (cross-checked with server/options.h). Nothing here hard-codes a port,
a path or an option name that the server defines.

Needs /usr/bin/python3 with Debian's python3-yaml (scripts/install-deps.sh installs it).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def path(*parts):
    return os.path.join(ROOT, *parts)


def read(*parts):
    with open(path(*parts), encoding="utf-8") as f:
        return f.read()


# ---------------------------------------------------------------------------------------
# The server's option definitions
# ---------------------------------------------------------------------------------------

OPTION_RE = re.compile(
    r'\b(Str|Int|Bytes)\(\s*"([a-z0-9-]+)"\s*,\s*(?:(nullptr|"-\w")\s*,\s*)?'
    r"&ServerOptions::(\w+)\s*,\s*((?:\"(?:[^\"\\]|\\.)*\"\s*)+)\)")


class Option:
    def __init__(self, flag, alias, field, kind, help_text):
        self.flag = flag                      # kebab-case, without dashes
        self.alias = alias                    # "-m" or None
        self.field = field                    # ServerOptions member
        self.kind = kind                      # Str | Int | Bytes | Config
        self.help = help_text
        self.key = flag.replace("-", "_")     # JSON config key
        self.env = "TERNSERVE_" + self.key.upper()


def server_options():
    """Every option of server/options.cpp's table, plus --config (handled apart there)."""
    source = read("server", "options.cpp")
    options = []
    for kind, flag, alias, field, literals in OPTION_RE.findall(source):
        help_text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', literals))
        options.append(Option(flag, None if alias in ("", "nullptr") else alias.strip('"'),
                              field, kind, help_text))
    if not options:
        raise SystemExit("deploy_check: no options found in server/options.cpp (format changed?)")
    if 'add_option("--config"' in source and '"TERNSERVE_CONFIG"' in source:
        options.insert(0, Option("config", None, "config", "Config",
                                 "JSON config file (keys as flags with '_' for '-')"))
    return options


def config_defaults():
    """config/ternserve.json: {key: default} and the per-key documentation."""
    data = json.loads(read("config", "ternserve.json"))
    doc = data.get("_doc", {})
    return {k: v for k, v in data.items() if not k.startswith("_")}, doc


def header_defaults():
    """server/options.h: {field: C++ default text} for plain int / string members."""
    fields = {}
    for ctype, name, default in re.findall(
            r"^\s*(std::string|int|uint64_t)\s+(\w+)(?:\s*=\s*([^;]+))?;", read("server", "options.h"), re.M):
        fields[name] = (ctype, default.strip() if default else None)
    return fields


def render_default(value):
    return json.dumps(value) if isinstance(value, str) else str(value)


# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------

class Checker:
    def __init__(self):
        self.failures = []
        self.passed = 0

    def check(self, ok, message):
        if ok:
            self.passed += 1
        else:
            self.failures.append(message)
        return ok


def check_option_sources(c, options, defaults, bin_dir):
    keys = {o.key for o in options}
    for o in options:
        if o.kind != "Config":
            c.check(o.key in defaults, f"config/ternserve.json has no key '{o.key}' (option --{o.flag})")
    for key in defaults:
        c.check(key in keys, f"config/ternserve.json key '{key}' is no option of server/options.cpp")
    # options.h and config/ternserve.json must agree on plain defaults (the port and host the
    # deployment relies on among them).
    fields = header_defaults()
    for o in options:
        if o.field not in fields or o.key not in defaults:
            continue
        ctype, cpp = fields[o.field]
        value = defaults[o.key]
        if ctype == "int":
            c.check(value == int(cpp or 0), f"default of {o.key}: options.h {cpp} vs config/ternserve.json {value}")
        elif ctype == "std::string":
            c.check(value == (json.loads(cpp) if cpp else ""),
                    f"default of {o.key}: options.h {cpp} vs config/ternserve.json {value!r}")
    if bin_dir:
        binary = os.path.join(bin_dir, "ternserve")
        out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30).stdout
        flags = set(re.findall(r"--([a-z][a-z0-9-]+)", out)) - {"help", "version"}
        c.check(flags == {o.flag for o in options},
                f"`ternserve --help` flags {sorted(flags)} differ from server/options.cpp {sorted(o.flag for o in options)}")


def health_path():
    source = read("server", "http_server.cpp")
    m = re.search(r'http\.Get\("(/health)"', source)
    if not m:
        raise SystemExit("deploy_check: server/http_server.cpp registers no /health route")
    return m.group(1)


def parse_bytes(text):
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", str(text))
    if not m:
        raise ValueError(text)
    units = {"": 1, "b": 1, "k": 1024, "kb": 1e3, "kib": 1024, "m": 1 << 20, "mb": 1e6, "mib": 1 << 20,
             "g": 1 << 30, "gb": 1e9, "gib": 1 << 30, "t": 1 << 40, "tb": 1e12, "tib": 1 << 40,
             # Kubernetes quantities
             "ki": 1024, "mi": 1 << 20, "gi": 1 << 30, "ti": 1 << 40}
    return float(m.group(1)) * units[m.group(2).lower()]


def check_readme(c, options, defaults):
    readme = read("README.md")
    m = re.search(r"^## Configuration\n(.*?)(?=^## |\Z)", readme, re.M | re.S)
    if not c.check(m is not None, "README.md has no '## Configuration' section"):
        return
    rows = [line for line in m.group(1).splitlines() if line.startswith("|")]
    table = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]
    by_flag = {}
    for cells in table:
        for flag in re.findall(r"`--([a-z0-9-]+)`", cells[0] if cells else ""):
            by_flag[flag] = cells
    for o in options:
        cells = by_flag.get(o.flag)
        if not c.check(cells is not None, f"README Configuration table misses option --{o.flag}"):
            continue
        c.check(len(cells) >= 4, f"README row of --{o.flag}: expected flag | env | key | default | meaning")
        if len(cells) < 4:
            continue
        c.check(f"`{o.env}`" in cells[1], f"README row of --{o.flag} does not name {o.env}")
        c.check(f"`{o.key}`" in cells[2], f"README row of --{o.flag} does not name config key {o.key}")
        if o.alias:
            c.check(f"`{o.alias}`" in cells[0], f"README row of --{o.flag} does not name its alias {o.alias}")
        if o.key in defaults:
            want = render_default(defaults[o.key])
            c.check(f"`{want}`" in cells[3], f"README default of --{o.flag} is not `{want}` (config/ternserve.json)")
    known = {o.flag for o in options}
    for flag in by_flag:
        c.check(flag in known, f"README Configuration table lists --{flag}, which the server does not have")


def load_yaml_docs(*parts):
    with open(path(*parts), encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def check_compose(c, options, defaults, health):
    (compose,) = load_yaml_docs("docker", "compose.yaml")
    services = compose.get("services", {})
    if not c.check(len(services) == 1, f"compose.yaml: expected one service, found {list(services)}"):
        return
    (svc,) = services.values()
    port = defaults["port"]
    build = svc.get("build", {})
    context = os.path.normpath(os.path.join(ROOT, "docker", build.get("context", ".")))
    c.check(os.path.isfile(os.path.join(context, build.get("dockerfile", "Dockerfile"))),
            "compose.yaml: build.dockerfile does not exist under build.context")
    targets = [str(p).rsplit(":", 1)[-1] for p in svc.get("ports", [])]
    c.check(str(port) in targets, f"compose.yaml: no port mapping to the server's port {port}")
    env = svc.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    known_env = {o.env for o in options}
    for name in env:
        c.check(not name.startswith("TERNSERVE_") or name in known_env, f"compose.yaml: {name} is no option")
    mounts = [str(v).split(":") for v in svc.get("volumes", [])]
    c.check(any(m[1] == "/models" for m in mounts if len(m) > 1), "compose.yaml: no volume at /models")
    config_mount = [m for m in mounts if len(m) > 1 and m[1] == env.get("TERNSERVE_CONFIG")]
    c.check(bool(config_mount), "compose.yaml: TERNSERVE_CONFIG does not name a mounted file")
    for m in config_mount:
        c.check(os.path.isfile(os.path.normpath(os.path.join(ROOT, "docker", m[0]))),
                f"compose.yaml: config file {m[0]} does not exist")
    c.check(svc.get("restart") in ("always", "unless-stopped", "on-failure"), "compose.yaml: no restart policy")
    test = " ".join(map(str, svc.get("healthcheck", {}).get("test", [])))
    c.check(f"127.0.0.1:{port}{health}" in test, f"compose.yaml: healthcheck is not on :{port}{health}")
    grace = svc.get("stop_grace_period", "10s")
    drain = int(env.get("TERNSERVE_SHUTDOWN_TIMEOUT", defaults["shutdown_timeout"]))
    c.check(int(str(grace).rstrip("s")) > drain,
            f"compose.yaml: stop_grace_period {grace} does not exceed the drain time {drain}s")


def check_dockerfile(c, defaults, health):
    text = read("docker", "Dockerfile")
    lines = [l for l in re.sub(r"\\\n", " ", text).splitlines() if l.strip() and not l.lstrip().startswith("#")]
    froms = [l.split()[1] for l in lines if l.startswith("FROM ")]
    c.check(len(froms) >= 2 and all(f == "debian:12-slim" for f in froms),
            f"Dockerfile: expected a multi-stage build on debian:12-slim, got {froms}")
    c.check(any("scripts/docker-build.sh" in l for l in lines if l.startswith("RUN ")),
            "Dockerfile: the build stage does not run scripts/docker-build.sh")
    c.check(any("install-deps.sh --runtime" in l for l in lines if l.startswith("RUN ")),
            "Dockerfile: the runtime stage does not run install-deps.sh --runtime")
    user = [l.split()[1] for l in lines if l.startswith("USER ")]
    c.check(bool(user) and user[-1].split(":")[0] not in ("0", "root"), "Dockerfile: runs as root")
    port = str(defaults["port"])
    c.check(any(l.split()[:2] == ["EXPOSE", port] for l in lines), f"Dockerfile: no EXPOSE {port}")
    hc = [l for l in lines if l.startswith("HEALTHCHECK ")]
    c.check(bool(hc) and "curl" in hc[0] and f"{port}}}{health}" in hc[0],
            f"Dockerfile: HEALTHCHECK is not curl on port {port} {health}")
    c.check(any(re.match(r"ENV\s+TERNSERVE_HOST=0\.0\.0\.0\b", l) for l in lines),
            "Dockerfile: TERNSERVE_HOST=0.0.0.0 not set")
    c.check(any(l.startswith("VOLUME ") and "/models" in l for l in lines), "Dockerfile: no /models volume")
    entry = [l for l in lines if l.startswith("ENTRYPOINT ")]
    c.check(bool(entry) and "/usr/local/bin/docker-entrypoint.sh" in entry[0],
            "Dockerfile: ENTRYPOINT is not the staged docker-entrypoint.sh")
    build_script = read("scripts", "docker-build.sh")
    c.check('docker/entrypoint.sh" "$stage$prefix/bin/docker-entrypoint.sh"' in build_script,
            "scripts/docker-build.sh does not stage docker/entrypoint.sh as bin/docker-entrypoint.sh")
    for line in lines:
        if line.startswith("COPY ") and "--from=" not in line:
            for src in line.split()[1:-1]:
                c.check(os.path.exists(path(src)), f"Dockerfile: COPY source {src} does not exist")


def check_kubernetes(c, options, defaults, health):
    kustomization = load_yaml_docs("docker", "k8s", "kustomization.yaml")[0]
    docs = []
    for res in kustomization.get("resources", []):
        if not c.check(os.path.isfile(path("docker", "k8s", res)), f"kustomization.yaml: {res} does not exist"):
            continue
        docs += load_yaml_docs("docker", "k8s", res)
    optional = load_yaml_docs("docker", "k8s", "ingress-nginx.yaml")
    by_kind = {}
    for d in docs + optional:
        c.check("apiVersion" in d and "kind" in d and "name" in d.get("metadata", {}),
                f"k8s: a document lacks apiVersion/kind/metadata.name: {str(d)[:80]}")
        by_kind.setdefault(d.get("kind"), []).append(d)
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap"):
        c.check(kind in by_kind, f"k8s: no {kind} in kustomization.yaml's resources")
    if "Deployment" not in by_kind:
        return
    known_env = {o.env for o in options}

    dep = by_kind["Deployment"][0]
    pod = dep["spec"]["template"]
    labels = pod["metadata"]["labels"]
    selects = lambda sel: bool(sel) and all(labels.get(k) == v for k, v in sel.items())
    c.check(selects(dep["spec"]["selector"]["matchLabels"]), "Deployment selector does not match its pods")
    spec = pod["spec"]
    (main,) = [ct for ct in spec["containers"] if ct["name"] == "ternserve"]

    # The options the container gets: ConfigMaps by envFrom, then env (env wins).
    configmaps = {cm["metadata"]["name"]: cm.get("data", {}) for cm in by_kind.get("ConfigMap", [])}
    env = {}
    for ref in main.get("envFrom", []):
        name = ref.get("configMapRef", {}).get("name")
        c.check(name in configmaps, f"Deployment: envFrom ConfigMap {name} is not in the manifests")
        env.update(configmaps.get(name, {}))
    for e in main.get("env", []):
        env[e["name"]] = e.get("value", "<from " + ",".join(e.get("valueFrom", {})) + ">")
    for name in env:
        c.check(not name.startswith("TERNSERVE_") or name in known_env, f"Deployment: {name} is no server option")
    for name, data in configmaps.items():
        for key in data:
            c.check(not key.startswith("TERNSERVE_") or key in known_env, f"ConfigMap {name}: {key} is no option")
    c.check(env.get("TERNSERVE_HOST", "0.0.0.0") == "0.0.0.0", "Deployment: the server does not listen on 0.0.0.0")
    port = int(env.get("TERNSERVE_PORT", defaults["port"]))
    ports = {p.get("name"): p["containerPort"] for p in main.get("ports", [])}
    c.check(list(ports.values()) == [port], f"Deployment: containerPort {list(ports.values())} is not the server's {port}")
    resolve = lambda p: ports.get(p, p) if isinstance(p, str) else p
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = main.get(probe, {}).get("httpGet")
        if probe == "startupProbe" and get is None:
            continue
        if c.check(get is not None, f"Deployment: no httpGet {probe}"):
            c.check(get.get("path") == health and resolve(get.get("port")) == port,
                    f"Deployment: {probe} is on {get.get('path')}:{get.get('port')}, not {health}:{port}")
    res = main.get("resources", {})
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            c.check(r in res.get(part, {}), f"Deployment: no resources.{part}.{r}")
    kv = env.get("TERNSERVE_KV_MEMORY")
    c.check(kv not in (None, "0"), "Deployment: TERNSERVE_KV_MEMORY is not set (auto reads the node's free memory)")
    if kv not in (None, "0") and "memory" in res.get("limits", {}):
        c.check(parse_bytes(res["limits"]["memory"]) > parse_bytes(kv),
                "Deployment: memory limit does not exceed the KV budget")
    drain = int(env.get("TERNSERVE_SHUTDOWN_TIMEOUT", defaults["shutdown_timeout"]))
    pre = main.get("lifecycle", {}).get("preStop", {})
    sleep = pre.get("sleep", {}).get("seconds")
    cmd = pre.get("exec", {}).get("command", [])
    if sleep is None and len(cmd) == 2 and cmd[0] == "sleep":
        sleep = int(cmd[1])
    c.check(sleep is not None and sleep > 0, "Deployment: no preStop sleep")
    grace = spec.get("terminationGracePeriodSeconds", 30)
    c.check(grace > (sleep or 0) + drain,
            f"Deployment: terminationGracePeriodSeconds {grace} <= preStop {sleep} + drain {drain}")
    # The model: an init container filling /models, or a volume holding it.
    mounts = {m["mountPath"]: m["name"] for m in main.get("volumeMounts", [])}
    c.check("/models" in mounts, "Deployment: nothing mounted at /models")
    model = env.get("TERNSERVE_MODEL", "")
    c.check(not model or model.startswith("/models/") or model.startswith("/usr/local/share/ternserve/"),
            f"Deployment: TERNSERVE_MODEL {model} is neither under /models nor built in")
    inits = spec.get("initContainers", [])
    fills = any(any(m["mountPath"] == "/models" for m in i.get("volumeMounts", [])) for i in inits)
    pvc = any(v.get("persistentVolumeClaim") for v in spec.get("volumes", []) if v["name"] == mounts.get("/models"))
    c.check(fills or pvc, "Deployment: /models is filled by neither an init container nor a PersistentVolumeClaim")
    for i in inits:
        if i.get("args") == ["fetch-model"]:
            c.check("fetch-model)" in read("docker", "entrypoint.sh"), "entrypoint.sh has no fetch-model mode")

    for svc in by_kind.get("Service", []):
        c.check(selects(svc["spec"]["selector"]), "Service selector does not match the Deployment's pods")
        for p in svc["spec"]["ports"]:
            c.check(resolve(p.get("targetPort", p["port"])) == port, f"Service targetPort {p.get('targetPort')} is not {port}")
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        ref = hpa["spec"]["scaleTargetRef"]
        c.check(ref["kind"] == "Deployment" and ref["name"] == dep["metadata"]["name"], "HPA targets another object")
        c.check(any(m.get("resource", {}).get("name") == "cpu" for m in hpa["spec"].get("metrics", [])), "HPA not on CPU")
        c.check(hpa["spec"].get("minReplicas", 1) >= 2, "HPA minReplicas < 2: a drain or rollout leaves no pod")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        c.check(selects(pdb["spec"]["selector"]["matchLabels"]), "PDB selector does not match the Deployment's pods")
    timeout = int(env.get("TERNSERVE_TIMEOUT", defaults["timeout"]))
    for ing in by_kind.get("Ingress", []):
        ann = ing["metadata"].get("annotations", {})
        c.check(ann.get("nginx.ingress.kubernetes.io/proxy-buffering") == "off", "Ingress: response buffering not off")
        c.check(int(ann.get("nginx.ingress.kubernetes.io/proxy-read-timeout", 60)) >= timeout,
                f"Ingress: proxy-read-timeout below the server's timeout {timeout}")
        services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                backend = p["backend"]["service"]
                c.check(backend["name"] in services, f"Ingress: backend {backend['name']} is no Service")
    if shutil.which("kubectl"):
        r = subprocess.run(["kubectl", "kustomize", path("docker", "k8s")], capture_output=True, text=True, timeout=60)
        c.check(r.returncode == 0, f"kubectl kustomize docker/k8s failed: {r.stderr.strip()}")


def readme_table(options, defaults, doc):
    lines = ["| flag | environment | config key | default | meaning |", "|---|---|---|---|---|"]
    for o in options:
        flag = f"`--{o.flag}`" + (f", `{o.alias}`" if o.alias else "")
        default = f"`{render_default(defaults[o.key])}`" if o.key in defaults else "(none)"
        meaning = doc.get(o.key, o.help).replace("|", "\\|")
        lines.append(f"| {flag} | `{o.env}` | `{o.key}` | {default} | {meaning} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", help="build bin dir: also compare with `ternserve --help`")
    ap.add_argument("--table", action="store_true", help="print the README Configuration table")
    args = ap.parse_args()
    options = server_options()
    defaults, doc = config_defaults()
    if args.table:
        print(readme_table(options, defaults, doc))
        return 0
    health = health_path()
    c = Checker()
    for name, run in (("options", lambda: check_option_sources(c, options, defaults, args.bin)),
                      ("README", lambda: check_readme(c, options, defaults)),
                      ("compose", lambda: check_compose(c, options, defaults, health)),
                      ("Dockerfile", lambda: check_dockerfile(c, defaults, health)),
                      ("kubernetes", lambda: check_kubernetes(c, options, defaults, health))):
        before = len(c.failures)
        try:
            run()
        except Exception as e:  # a missing field is a failure of that part, not a crash
            c.failures.append(f"{name}: {type(e).__name__}: {e}")
        print(f"deploy_check: {name}: {'ok' if len(c.failures) == before else 'FAILED'}")
    for f in c.failures:
        print("  FAIL:", f)
    print(f"deploy_check: {c.passed} checks passed, {len(c.failures)} failed ({len(options)} options)")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
