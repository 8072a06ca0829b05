#!/usr/bin/env python3
"""Runs `tripletkit knn` or `tripletkit mine-negatives` as N shards on a Ray cluster, then merges.

    python driver.py knn queries.npy corpus.npy --k 10 --out indices.npy --distances d.npy --shards 8
    python driver.py mine-negatives q.npy corpus.npy positives.npy --out neg.npy --scores s.npy \
        --shards 8 --address ray://head:10001 --tripletkit "node /opt/tripletkit/dist/src/cli/main.js"

Every argument the driver does not know goes to tripletkit unchanged. Shard i runs
`tripletkit <command> ... --shard i/N` as one Ray task; the task returns the part's bytes, the
driver writes them into --parts-dir and runs `tripletkit merge` there, which writes --out (and
--distances or --scores) exactly as one run without --shard would. Ray does the scheduling.

Exit codes follow tripletkit's: 0 done, 1 a shard or the merge failed, 2 a wrong command line.
"""
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import ray

USAGE = """\
usage: driver.py {knn,mine-negatives} <files...> [tripletkit flags] --out OUT
                 [--distances D.npy | --scores S.npy] --shards N [--address ADDR]
                 [--tripletkit CMD] [--parts-dir DIR] [--cpus-per-shard C] [--num-cpus C] [-q]

  --shards N          shards of the corpus, one Ray task each
  --address ADDR      the Ray cluster (ray://host:10001, host:6379 or auto); default: a local one
  --tripletkit CMD    how to run tripletkit on the workers (default: npx tripletkit),
                      for example "node /opt/tripletkit/dist/src/cli/main.js"
  --parts-dir DIR     keep the parts here (default: a temporary directory, removed afterwards)
  --cpus-per-shard C  CPUs each task reserves and its CPU kernels use (default 1)
  --num-cpus C        CPUs of the local cluster (default: all); not with --address
  -q, --quiet         print nothing but errors
Everything else (--k, --metric, --device, --max-memory, ...) is passed to tripletkit."""

COMMANDS = {"knn": "--distances", "mine-negatives": "--scores"}
# Flags the driver consumes; all take a value.
OWN = {"--shards", "--address", "--tripletkit", "--parts-dir", "--cpus-per-shard", "--num-cpus",
       "--out", "--distances", "--scores"}


class UsageError(Exception):
    pass


def parse(argv):
    """Splits argv into the driver's own options and tripletkit's arguments, keeping the latter's order."""
    own, rest, quiet = {}, [], False
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if name in OWN:
            if not eq:
                value = next(args, None)
                if value is None:
                    raise UsageError(f"{name}: expected a value")
            own[name] = value
        elif arg in ("-q", "--quiet"):
            quiet = True
        elif name == "--shard":
            raise UsageError("--shard: the driver gives each task its shard; use --shards N")
        else:
            rest.append(arg)
    if not rest or rest[0] not in COMMANDS:
        raise UsageError(f"expected the command knn or mine-negatives first, received {rest[0] if rest else 'none'!r}")
    if "--out" not in own:
        raise UsageError("--out: required")
    extra = COMMANDS[rest[0]]
    for flag in set(COMMANDS.values()) - {extra}:
        if flag in own:
            raise UsageError(f"{flag}: {rest[0]} writes {extra}, not {flag}")
    if "--shards" not in own:
        raise UsageError("--shards: required")
    if "--num-cpus" in own and "--address" in own:
        raise UsageError("--num-cpus: only for the local cluster, not with --address")
    tripletkit = shlex.split(own.get("--tripletkit", "npx tripletkit"))
    if not tripletkit:
        raise UsageError("--tripletkit: expected a command")
    return {
        "rest": rest, "quiet": quiet, "address": own.get("--address"), "tripletkit": tripletkit,
        "shards": positive_int(own, "--shards", None), "parts_dir": own.get("--parts-dir"),
        "cpus": positive_int(own, "--cpus-per-shard", 1), "num_cpus": positive_int(own, "--num-cpus", None),
        "out": own["--out"], "extra": (extra, own[extra]) if extra in own else None,
    }


def positive_int(own, name, default):
    if name not in own:
        return default
    try:
        n = int(own[name])
    except ValueError:
        n = 0
    if n < 1:
        raise UsageError(f"{name}: expected an integer ≥ 1, received {own[name]!r}")
    return n


def device_of(rest):
    """The --device tripletkit gets ('auto' when not given)."""
    for i, arg in enumerate(rest):
        if arg == "--device" and i + 1 < len(rest):
            return rest[i + 1]
        if arg.startswith("--device="):
            return arg.split("=", 1)[1]
    return "auto"


@ray.remote
def run_shard(argv, cwd, threads):
    """One shard: runs tripletkit into a scratch directory of the worker and returns the part's bytes."""
    started, host = time.time(), platform.node()
    env = dict(os.environ)
    # The CPU kernels use rayon's pool; keep it to the CPUs this task reserved.
    env.setdefault("RAYON_NUM_THREADS", str(threads))
    with tempfile.TemporaryDirectory(prefix="tripletkit-shard-") as scratch:
        part = os.path.join(scratch, "part.npz")
        try:
            # The driver's directory, where relative paths point, when this machine has it too.
            r = subprocess.run(argv + ["--out", part], cwd=cwd if os.path.isdir(cwd) else None,
                               env=env, capture_output=True, text=True)
        except OSError as err:
            return {"code": 127, "stderr": f"cannot run {argv[0]}: {err}\n", "host": host}
        if r.returncode != 0:
            return {"code": r.returncode, "stderr": r.stderr, "host": host}
        with open(part, "rb") as f:
            return {"code": 0, "part": f.read(), "host": host, "seconds": time.time() - started}


def run_shards(o, parts_dir):
    """Runs every shard as a Ray task and writes the parts; returns their paths, or exits on the first failure."""
    gpus = ray.cluster_resources().get("GPU", 0) > 0 and device_of(o["rest"]) not in ("cpu", "js")
    task = run_shard.options(num_gpus=1, num_cpus=o["cpus"]) if gpus else run_shard.options(num_cpus=o["cpus"])
    argvs = [o["tripletkit"] + o["rest"] + ["--shard", f"{i}/{o['shards']}", "-q"] for i in range(o["shards"])]
    refs = {task.remote(argv, os.getcwd(), o["cpus"]): i for i, argv in enumerate(argvs)}
    paths, pending = [None] * o["shards"], list(refs)
    while pending:
        [done], pending = ray.wait(pending, num_returns=1)
        i, result = refs[done], ray.get(done)
        if result["code"] != 0:
            for ref in pending:
                ray.cancel(ref)  # interrupts the task, which kills its tripletkit
            how = f"exit code {result['code']}" if result["code"] > 0 else f"signal {-result['code']}"
            sys.stderr.write(f"driver.py: shard {i}/{o['shards']} failed on {result['host']} with {how}: "
                             f"{shlex.join(argvs[i])}\n{result['stderr']}")
            sys.exit(2 if result["code"] == 2 else 1)
        paths[i] = os.path.join(parts_dir, f"part-{i}.npz")
        with open(paths[i], "wb") as f:
            f.write(result["part"])
        if not o["quiet"]:
            sys.stderr.write(f"shard {i}/{o['shards']}: {len(result['part'])} bytes from {result['host']} "
                             f"in {result['seconds']:.1f} s\n")
    return paths


def merge(o, paths):
    argv = o["tripletkit"] + ["merge", *paths, "--out", o["out"]] + (list(o["extra"]) if o["extra"] else [])
    return subprocess.run(argv + (["-q"] if o["quiet"] else [])).returncode


def main(argv):
    if any(a in ("-h", "--help") for a in argv):
        print(USAGE)
        return 0
    try:
        o = parse(argv)
    except UsageError as err:
        sys.stderr.write(f"driver.py: {err}\n{USAGE}\n")
        return 2
    if o["address"] is None:
        ray.init(num_cpus=o["num_cpus"], include_dashboard=False, logging_level="warning")
    else:
        ray.init(address=o["address"], logging_level="warning")
    parts_dir = o["parts_dir"] or tempfile.mkdtemp(prefix="tripletkit-parts-")
    try:
        os.makedirs(parts_dir, exist_ok=True)
        return merge(o, run_shards(o, parts_dir))
    finally:
        if o["parts_dir"] is None:
            shutil.rmtree(parts_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
