"""Times the maths of bench/run.ts with NumPy, FAISS (IndexFlatL2 for knn, on every core) and
pytorch-metric-learning where installed.

Reads the cases as JSON on stdin ([{"id", "op", "n", "m", "d", "k"}]) and prints one JSON object
{id: {"numpy": ms, "faiss": ms, "pml": ms}} (a key is absent where its library is). Each time is the median
of `reps` runs after a warm-up, on the same seeded data as bench/run.ts is not needed: only the
shapes matter for these dense kernels.
"""
import json
import sys
import time


def median_ms(f, reps):
    f()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return times[len(times) // 2]


def main():
    cases = json.load(sys.stdin)
    out = {"versions": {}}
    try:
        import numpy as np
    except ImportError:
        print(json.dumps(out))
        return
    out["versions"]["numpy"] = np.__version__
    try:
        import faiss

        out["versions"]["faiss"] = faiss.__version__
        out["versions"]["faiss_threads"] = str(faiss.omp_get_max_threads())
    except ImportError:
        faiss = None
    try:
        import torch
        from pytorch_metric_learning import losses, miners

        torch.set_num_threads(1)
        out["versions"]["pml"] = f"torch {torch.__version__}"
    except ImportError:
        torch = None
    rng = np.random.default_rng(42)
    for c in cases:
        n, m, d, k = c["n"], c.get("m", c["n"]), c["d"], c.get("k", 10)
        x = rng.standard_normal((n, d), dtype=np.float32)
        y = rng.standard_normal((m, d), dtype=np.float32)
        labels = np.arange(n) % max(2, n // c.get("perClass", 32))
        reps = 200 if n <= 64 else 5
        res = {}
        if c["op"] == "pairwise":
            def f():
                sq = (x * x).sum(1)[:, None] + (x * x).sum(1)[None, :] - 2 * x @ x.T
                return np.sqrt(np.maximum(sq, 0))
            res["numpy"] = median_ms(f, reps)
        elif c["op"] == "knn":
            def f():
                sq = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2 * x @ y.T
                part = np.argpartition(sq, k, axis=1)[:, :k]
                return np.take_along_axis(sq, part, 1)
            if n * m <= 2e8:
                res["numpy"] = median_ms(f, reps)
            if faiss is not None:
                index = faiss.IndexFlatL2(d)
                index.add(y)
                res["faiss"] = median_ms(lambda: index.search(x, k), reps if n * m <= 2e8 else 3)
        elif c["op"] in ("mine-batch-hard", "loss-batch-hard"):
            same = labels[:, None] == labels[None, :]

            def f():
                sq = (x * x).sum(1)[:, None] + (x * x).sum(1)[None, :] - 2 * x @ x.T
                dist = np.sqrt(np.maximum(sq, 0))
                pos = np.where(same, dist, -np.inf).max(1)
                neg = np.where(same, np.inf, dist).min(1)
                return np.maximum(pos - neg + 0.2, 0).mean()
            if n <= 8192:
                res["numpy"] = median_ms(f, reps)
            if torch is not None and c["op"] == "loss-batch-hard" and n <= 8192:
                emb = torch.tensor(x, requires_grad=True)
                lab = torch.tensor(labels)
                miner = miners.BatchHardMiner()
                loss_fn = losses.TripletMarginLoss(margin=0.2)

                def g():
                    emb.grad = None
                    loss = loss_fn(emb, lab, miner(emb, lab))
                    loss.backward()
                res["pml"] = median_ms(g, reps)
        elif c["op"] == "supcon" and torch is not None and n <= 4096:
            emb = torch.tensor(x, requires_grad=True)
            lab = torch.tensor(labels)
            loss_fn = losses.SupConLoss(temperature=0.1)

            def g():
                emb.grad = None
                loss_fn(emb, lab).backward()
            res["pml"] = median_ms(g, reps)
        out[c["id"]] = res
    print(json.dumps(out))


if __name__ == "__main__":
    main()
