"""pytorch-metric-learning's TripletMarginMiner(type_of_triplets='all') on the batch of
bench/sampled.ts, for its comparison: reads {"n", "d", "classes", "ref"} as JSON on stdin
(ref: reference rows, 0 for none) and prints one JSON object: {"ms", "triplets", "peak_mib"},
or {"error": "..."} where the miner fails (out of memory, say). One thread, as the rest of
the bench's Python columns.
"""
import json
import resource
import sys
import time


def main():
    case = json.load(sys.stdin)
    try:
        import torch
        import pytorch_metric_learning
        from pytorch_metric_learning import miners
    except ImportError as e:
        print(json.dumps({"error": f"not installed ({e.name})"}))
        return
    torch.set_num_threads(1)
    n, d, classes, ref = case["n"], case["d"], case["classes"], case["ref"]
    g = torch.Generator().manual_seed(7)
    x = torch.randn(n, d, generator=g)
    labels = torch.arange(n) % classes
    args = (x, labels)
    if ref > 0:
        args += (torch.randn(ref, d, generator=g), torch.arange(ref) % classes)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    miner = miners.TripletMarginMiner(margin=0.2, type_of_triplets="all")
    try:
        t0 = time.perf_counter()
        a, p, _ = miner(*args)
        ms = (time.perf_counter() - t0) * 1000
    except (RuntimeError, MemoryError) as e:
        print(json.dumps({"error": str(e).splitlines()[0][:160], "versions": versions(torch, pytorch_metric_learning)}))
        return
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"ms": ms, "triplets": int(a.numel()), "peak_mib": peak, "versions": versions(torch, pytorch_metric_learning)}))


def versions(torch, pml):
    return f"pytorch-metric-learning {pml.__version__} on torch {torch.__version__}"


if __name__ == "__main__":
    main()
