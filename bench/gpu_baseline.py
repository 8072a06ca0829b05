"""PyTorch baseline for tripletkit's CUDA backend: the same work, done the usual PyTorch way.

Times, in float32 with d = 128 and random normal data (labels in classes of 8, shuffled):

  pairwise        torch.cdist(x, x), N = 65,536, against the HBM bound for writing the N x N result
  batch-hard      cdist, the same-class mask, hardest positive (max) and negative (min), N = 65,536
  knn             100,000 queries x 1,000,000 corpus, k = 10: cdist + topk in 2,048-query chunks
  batch-hard-1m   batch-hard at N = 1,000,000 in 4,096-row chunks (the full matrix does not fit)
  pairwise-tf32, batch-hard-tf32   the first two with TF32 matmuls allowed

Each time is the median of 5 runs (3 for knn, 2 for batch-hard-1m) after one warm-up call, with
torch.cuda.synchronize() around each run; the peak is torch.cuda.max_memory_allocated() over the
row, inputs included. A row that runs out of GPU memory reports OOM and the next one runs.

Run:  python3 bench/gpu_baseline.py [--quick] [--device cpu] [--only knn,pairwise] [--json PATH]

--quick divides every size by 16; --device cpu runs the same code on the CPU at 1/64 of the
sizes (so the logic can be checked without a GPU). The table goes to stdout and the results to
--json (default: $OUT/gpu_baseline.json when OUT is set, else bench/gpu_baseline.json). Without
torch, or without a CUDA GPU for --device cuda, it prints "skipped: <reason>" and exits 0.
"""
import argparse
import json
import os
import sys
import time

D = 128
K = 10
KNN_CHUNK = 2048  # 2,048 × 10^6 < 2^31: older CUDA topk builds mis-index larger (pytorch#173622)
BH_CHUNK = 4096  # anchor rows a chunk in batch-hard-1m: about 42 GiB of temporaries
HBM_BYTES_PER_S = 4.3e12  # H200 HBM bandwidth reached in practice
MM = "use_mm_for_euclid_dist"  # what cdist picks at these sizes anyway; explicit for TF32
ROWS = ["pairwise", "batch-hard", "knn", "batch-hard-1m", "pairwise-tf32", "batch-hard-tf32"]


def data(torch, n, dev, labelled=False):
    x = torch.randn(n, D, device=dev)
    if not labelled:
        return x
    labels = (torch.arange(n, device=dev) // 8)[torch.randperm(n, device=dev)]
    return x, labels


def median_ms(torch, dev, fn, reps, warmup=None):
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    (warmup or fn)()
    times = []
    for _ in range(reps):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)[len(times) // 2], times


def hardest(torch, dist, lab_rows, labels, first):
    """Hardest positive and negative of the anchors first, first + 1, ... (the rows of dist)."""
    same = lab_rows[:, None] == labels[None, :]
    pos_mask = same.clone()
    rows = torch.arange(dist.shape[0], device=dist.device)
    pos_mask[rows, rows + first] = False  # an anchor is not its own positive
    pos = dist.masked_fill(~pos_mask, float("-inf")).max(1)
    neg = dist.masked_fill(same, float("inf")).min(1)
    return pos, neg


def row_pairwise(torch, dev, n):
    x = data(torch, n, dev)
    ms, times = median_ms(torch, dev, lambda: torch.cdist(x, x, compute_mode=MM), 5)
    bound = n * n * 4 / HBM_BYTES_PER_S * 1000 if dev == "cuda" else None
    return f"pairwise {n:,}² × {D} (cdist)", ms, times, bound, ""


def row_batch_hard(torch, dev, n):
    x, labels = data(torch, n, dev, labelled=True)

    def run():
        hardest(torch, torch.cdist(x, x, compute_mode=MM), labels, labels, 0)

    ms, times = median_ms(torch, dev, run, 5)
    return f"batch-hard mining, N = {n:,}", ms, times, None, "full N × N matrix"


def row_knn(torch, dev, nq, nc):
    q, corpus = data(torch, nq, dev), data(torch, nc, dev)

    def chunk(s):
        d = torch.cdist(q[s:s + KNN_CHUNK], corpus, compute_mode=MM)
        return torch.topk(d, K, dim=1, largest=False)

    def run():
        for s in range(0, nq, KNN_CHUNK):
            chunk(s)

    ms, times = median_ms(torch, dev, run, 3, warmup=lambda: chunk(0))
    return (f"knn {nq:,} × {nc:,}, k = {K}", ms, times, None,
            f"cdist + topk, {KNN_CHUNK:,}-query chunks")


def row_batch_hard_chunked(torch, dev, n):
    x, labels = data(torch, n, dev, labelled=True)

    def chunk(s):
        dist = torch.cdist(x[s:s + BH_CHUNK], x, compute_mode=MM)
        return hardest(torch, dist, labels[s:s + BH_CHUNK], labels, s)

    def run():
        for s in range(0, n, BH_CHUNK):
            chunk(s)

    ms, times = median_ms(torch, dev, run, 2, warmup=lambda: chunk(0))
    return f"batch-hard mining, N = {n:,}", ms, times, None, f"chunked, {BH_CHUNK:,} rows a chunk"


def with_tf32(torch, row):
    def run(*args):
        old = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            work, ms, times, bound, note = row(*args)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = old
        return work + ", TF32", ms, times, bound, (note + "; " if note else "") + "TF32 matmul"
    return run


def fmt(v, unit=""):
    return "—" if v is None else f"{v:,.2f}{unit}" if v < 10 else f"{v:,.1f}{unit}"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="every size / 16")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--json", default=None, help="where to write the results")
    p.add_argument("--only", default=None, help="comma list of: " + ",".join(ROWS))
    a = p.parse_args()
    default_dir = os.environ.get("OUT") or os.path.dirname(os.path.abspath(__file__))
    path = a.json or os.path.join(default_dir, "gpu_baseline.json")
    only = ROWS if a.only is None else [r.strip() for r in a.only.split(",") if r.strip()]
    unknown = [r for r in only if r not in ROWS]
    if unknown:
        p.error(f"unknown row(s) {', '.join(unknown)}; rows are {', '.join(ROWS)}")

    def write(result):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(result, f, indent=2)

    try:
        import torch
    except ImportError:
        reason = "torch is not installed"
    else:
        reason = None if a.device == "cpu" or torch.cuda.is_available() else \
            "torch.cuda.is_available() is false (no CUDA GPU)"
    if reason:
        print(f"skipped: {reason}")
        write({"skipped": reason})
        return 0

    dev = a.device
    oom_error = getattr(torch.cuda, "OutOfMemoryError", RuntimeError)
    scale = (1 / 16 if a.quick else 1) * (1 / 64 if dev == "cpu" else 1)

    def size(n):
        return max(64, int(n * scale) // 8 * 8)

    rows = {
        "pairwise": (row_pairwise, (size(65536),)),
        "batch-hard": (row_batch_hard, (size(65536),)),
        "knn": (row_knn, (size(100_000), size(1_000_000))),
        "batch-hard-1m": (row_batch_hard_chunked, (size(1_000_000),)),
        "pairwise-tf32": (with_tf32(torch, row_pairwise), (size(65536),)),
        "batch-hard-tf32": (with_tf32(torch, row_batch_hard), (size(65536),)),
    }
    if dev == "cuda":
        name, cuda = torch.cuda.get_device_name(), torch.version.cuda
    else:
        name, cuda = f"CPU ({torch.get_num_threads()} threads)", None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    w = torch.randn(512, D, device=dev)  # start the device, cuBLAS and the allocator once
    torch.topk(torch.cdist(w, w, compute_mode=MM), K, largest=False)
    del w
    print(f"torch {torch.__version__}; {name}; CUDA {cuda or '—'}; float32, d = {D}"
          + ("; --quick" if a.quick else ""))
    print()
    print("| work | torch (ms) | bound (ms) | peak memory (MiB) | note |")
    print("|---|---:|---:|---:|---|")
    results, failed = [], False
    for rid in only:
        fn, args = rows[rid]
        if dev == "cuda":
            torch.cuda.reset_peak_memory_stats()
        rec = {"id": rid, "args": list(args)}
        try:
            work, ms, times, bound, note = fn(torch, dev, *args)
            peak = torch.cuda.max_memory_allocated() / 2**20 if dev == "cuda" else None
            if bound is not None:
                note = (note + "; " if note else "") + \
                    f"HBM write bound at 4.3 TB/s, torch {ms / bound:.1f}× it"
            rec.update(work=work, ms=ms, times_ms=times, bound_ms=bound, peak_mib=peak, note=note,
                       ratio_to_bound=ms / bound if bound else None, status="ok")
            print(f"| {work} | {fmt(ms)} | {fmt(bound)} | {fmt(peak)} | {note} |")
        except oom_error:
            rec.update(work=rid, ms=None, status="oom", note="OOM")
            sizes = ", ".join(f"{v:,}" for v in args)
            print(f"| {rid} ({sizes}) | OOM | — | — | out of memory |")
        except Exception as e:  # report it, run the other rows, exit 1 at the end
            msg = " ".join(str(e).split()).replace("|", "/")
            rec.update(work=rid, ms=None, status="error", note=f"{type(e).__name__}: {msg}")
            print(f"| {rid} | error | — | — | {rec['note'][:200]} |")
            failed = True
        if dev == "cuda":
            torch.cuda.empty_cache()
        results.append(rec)
        sys.stdout.flush()
    write({"torch": torch.__version__, "device": name, "cuda": cuda, "quick": a.quick, "d": D,
           "k": K, "knn_chunk": KNN_CHUNK, "bh_chunk": BH_CHUNK,
           "hbm_bytes_per_s": HBM_BYTES_PER_S, "rows": results})
    print(f"\nwrote {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
