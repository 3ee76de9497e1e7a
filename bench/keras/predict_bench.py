"""Keras reference for bench/inference.ts: predict_on_batch throughput of the same small CNN
(tf_backend_bench.small_cnn mirrors lib/ml/models.ts createSmallCnn) on random 28x28x1 inputs, per
batch size. Prints one JSON object on stdout; everything else goes to stderr.

Usage: python predict_bench.py --batches 1,32,64,256 --samples 4096 --repeats 3
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tf_backend_bench import small_cnn  # noqa: E402


def bench(model, batch, samples, repeats):
    x = np.random.default_rng(0).random((batch, 28, 28, 1), dtype=np.float32)
    # small batches are slow per sample: cap their iterations (same rule as bench/inference.ts)
    iters = max(3, min(samples, batch * 128) // batch)
    for _ in range(3):
        np.asarray(model.predict_on_batch(x))
    runs = []
    cpu_runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        cpu0 = time.process_time()
        for _ in range(iters):
            np.asarray(model.predict_on_batch(x))
        runs.append(batch * iters / (time.perf_counter() - start))
        cpu_runs.append(batch * iters / max(1e-9, time.process_time() - cpu0))
    return {
        "median": statistics.median(runs),
        "min": min(runs),
        "max": max(runs),
        "runs": runs,
        # per second of this process's CPU time (all threads): comparable on a busy machine
        "per_cpu_second": statistics.median(cpu_runs),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1,32,64,256")
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    model = small_cnn(seed=42)
    out = {str(b): bench(model, int(b), args.samples, args.repeats) for b in args.batches.split(",")}
    threading = tf.config.threading
    json.dump(
        {
            "tensorflow": tf.__version__,
            "intra_op_threads": threading.get_intra_op_parallelism_threads() or "default",
            "inter_op_threads": threading.get_inter_op_parallelism_threads() or "default",
            "env": {k: os.environ[k] for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS") if k in os.environ},
            "samples_per_s": out,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
