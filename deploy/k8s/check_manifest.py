#!/usr/bin/python3
"""check_manifest.py — does deploy/k8s still hold what the sharded flow depends on?

usage: check_manifest.py [--linkbench BIN] DIR     (DIR: deploy/k8s)

job.yaml is parsed (PyYAML) and checked against job.schema.json (python3-jsonschema), then
across fields: parallelism = completions = SHARDS, the shard's command line passes
JOB_COMPLETION_INDEX/SHARDS to --shard and START_AT to --start-at, writes under a mounted
ReadWriteMany claim, and merge.yaml reads that same claim and run id with the same image.
With --linkbench, the container's command line is run through that linkbench with the
manifest's environment: as shipped (START_AT still a placeholder) it must refuse the start
time (exit 2), and with a real start time get past every option to the scenario file.
Kubernetes' own schema is not checked: kubeconform is not packaged for Debian 12.
Exit 0 when all holds, 1 with a FAIL line per problem.
"""
import json
import os
import subprocess
import sys
import tempfile

import jsonschema
import yaml

fails = []


def fail(msg):
    fails.append(msg)
    print("FAIL: " + msg)


def ok(msg):
    print("ok: " + msg)


def load(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    if len(docs) != 1:
        fail("%s: one document expected, found %d" % (path, len(docs)))
    return docs[0] if docs else {}


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def claim_at(pod, container, path):
    """The PVC claim mounted at path (or above it) in this container, or None."""
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    for m in container.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            pvc = vols.get(m["name"], {}).get("persistentVolumeClaim")
            return pvc and pvc.get("claimName")
    return None


def run_command(lb, args, env):
    """The container's sh -c command with linkbench = lb, in env; (exit code, stderr)."""
    with tempfile.TemporaryDirectory() as d:
        os.symlink(os.path.abspath(lb), os.path.join(d, "linkbench"))
        e = dict(os.environ, **env)
        e["PATH"] = d + os.pathsep + e.get("PATH", "")
        p = subprocess.run(["/bin/sh", "-c", args], env=e, capture_output=True, text=True, timeout=60)
        return p.returncode, p.stderr


def main():
    argv = sys.argv[1:]
    lb = None
    if len(argv) >= 2 and argv[0] == "--linkbench":
        lb, argv = argv[1], argv[2:]
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    d = argv[0]
    job = load(os.path.join(d, "job.yaml"))
    merge = load(os.path.join(d, "merge.yaml"))
    pvc = load(os.path.join(d, "pvc.yaml"))
    with open(os.path.join(d, "job.schema.json")) as f:
        schema = json.load(f)
    errs = sorted(jsonschema.Draft202012Validator(schema).iter_errors(job), key=lambda e: list(e.path))
    for e in errs:
        fail("job.yaml: %s: %s" % (".".join(str(p) for p in e.path) or "(top)", e.message))
    if errs:
        return 1
    ok("job.yaml: parsed and matches job.schema.json (Indexed, restartPolicy Never, backoffLimit 0)")

    spec = job["spec"]
    pod = spec["template"]["spec"]
    c = pod["containers"][0]
    env = env_of(c)
    args = c["args"][0]
    shards = env.get("SHARDS")
    if not (shards and shards.isdigit() and int(shards) == spec["completions"] == spec["parallelism"]):
        fail("job.yaml: SHARDS (%s), completions (%s) and parallelism (%s) must be equal: every shard "
             "runs at once" % (shards, spec["completions"], spec["parallelism"]))
    else:
        ok("job.yaml: %s shards, all at once" % shards)
    for needle, why in (('--shard "$JOB_COMPLETION_INDEX/$SHARDS"', "the pod's index is its shard"),
                        ('--start-at "$START_AT"', "every shard starts at one time"),
                        ('--target "$TARGET"', "the gateway under test"),
                        ('--out "/results/$RUN_ID"', "reports on the shared volume")):
        if needle not in args:
            fail("job.yaml: the command line lacks %s (%s)" % (needle, why))
    for k in ("START_AT", "TARGET", "SCENARIO", "RUN_ID"):
        if not env.get(k):
            fail("job.yaml: env %s is not set" % k)
    if env.get("START_AT") != "__START_AT__":
        fail("job.yaml: START_AT must ship as the placeholder __START_AT__ (set when applied), got %r"
             % env.get("START_AT"))
    claim = claim_at(pod, c, "/results/x")
    if not claim:
        fail("job.yaml: /results is not a mounted persistentVolumeClaim")
    mpod = merge.get("spec", {}).get("template", {}).get("spec", {})
    mc = (mpod.get("containers") or [{}])[0]
    if claim and claim_at(mpod, mc, "/results/x") != claim:
        fail("merge.yaml: /results must mount the claim the shards write to (%s)" % claim)
    if mc.get("image") != c["image"]:
        fail("merge.yaml: image %r differs from the shards' %r" % (mc.get("image"), c["image"]))
    if env_of(mc).get("RUN_ID") != env.get("RUN_ID"):
        fail("merge.yaml: RUN_ID differs from the shards'")
    if 'linkbench merge "/results/$RUN_ID/merged" "/results/$RUN_ID"' not in " ".join(mc.get("args", [])):
        fail("merge.yaml: the command must merge /results/$RUN_ID into /results/$RUN_ID/merged")
    if pvc.get("kind") != "PersistentVolumeClaim" or pvc.get("metadata", {}).get("name") != claim:
        fail("pvc.yaml: a PersistentVolumeClaim named %s" % claim)
    elif "ReadWriteMany" not in pvc.get("spec", {}).get("accessModes", []):
        fail("pvc.yaml: the claim must be ReadWriteMany (every shard pod writes to it)")
    if not fails:
        ok("merge.yaml and pvc.yaml: the same claim (%s), image and run id" % claim)

    if lb:
        run_env = dict(env, JOB_COMPLETION_INDEX="0", SCENARIO="/nonexistent/scenario.json",
                       TARGET="ws://127.0.0.1:9/")
        rc, err = run_command(lb, args, run_env)
        if rc != 2 or "--start-at" not in err:
            fail("as shipped, the shard must refuse the placeholder start time (exit 2, --start-at): "
                 "exit %d: %s" % (rc, err.strip()))
        else:
            ok("as shipped, a shard refuses the placeholder start: %s" % err.strip().splitlines()[-1])
        run_env["START_AT"] = "2026-01-01T00:00:00Z"
        rc, err = run_command(lb, args, run_env)
        if rc != 2 or "/nonexistent/scenario.json" not in err:
            fail("with a start time, the command line must get past every option to the scenario: "
                 "exit %d: %s" % (rc, err.strip()))
        else:
            ok("with a start time, every option of the command line is accepted")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
