"""Keras reference for bench/train.ts: the trainer's model (lib/ml/models.ts createSmallCnn, mirrored
in tf_backend_bench.small_cnn), the same Fashion-MNIST images, the same batch sizes, one shuffled
epoch per timed run, on TensorFlow 2.21. Prints one JSON object on stdout; the rest on stderr.

Usage: python train_bench.py --samples 16384 --batches 64,128,256 --repeats 3 [--data-dir DIR]
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tf_backend_bench import load, small_cnn  # noqa: E402


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def bench(x, y, batch, repeats, validation):
    model = small_cnn(seed=42)
    # Warm-up: traces the train step (tf.function) and fills the thread pools.
    model.fit(x[: batch * 4], y[: batch * 4], batch_size=batch, epochs=1, verbose=0)
    runs = []
    cpu = []
    for _ in range(repeats):
        start = time.perf_counter()
        cpu_start = time.process_time()
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0, validation_data=validation)
        runs.append(len(x) / (time.perf_counter() - start))
        cpu.append(len(x) / (time.process_time() - cpu_start))
    return {**summary(runs), "per_cpu_second": summary(cpu)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--samples", type=int, default=16384)
    ap.add_argument("--batches", default="64,128,256")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    x, y = load(args.data_dir, "train")
    x, y = x[: args.samples], y[: args.samples]
    out = {}
    for b in (int(s) for s in args.batches.split(",")):
        out[str(b)] = bench(x, y, b, args.repeats, None)
        print(f"keras batch {b}: {out[str(b)]['median']:.0f} samples/s", file=sys.stderr)
    threading = tf.config.threading
    json.dump(
        {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "samples": len(x),
            "intra_op_threads": threading.get_intra_op_parallelism_threads() or "default",
            "inter_op_threads": threading.get_inter_op_parallelism_threads() or "default",
            "env": {k: os.environ[k] for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS") if k in os.environ},
            "train_samples_per_s": out,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
