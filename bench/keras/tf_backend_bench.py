"""Keras reference for bench/tf-backend.ts: the same small CNN (lib/models.ts createSmallCnn), the
same Fashion-MNIST data and the same measuring protocol, on TensorFlow 2.21. Prints one JSON
object on stdout; everything else goes to stderr.

Usage: python tf_backend_bench.py --train-batches 64,256 --train-samples 8192 --infer-batch 1024
                                  --infer-batches 8 --repeats 3 [--data-dir DIR]
"""

import argparse
import gzip
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402


def read_idx(path):
    with gzip.open(path, "rb") as f:
        buf = f.read()
    magic = int.from_bytes(buf[0:4], "big")
    if magic >> 8 != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    dims = magic & 0xFF
    shape = [int.from_bytes(buf[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(buf, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(data_dir, split):
    x = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz")).astype(np.float32)
    return x.reshape(-1, 28, 28, 1), y


def small_cnn(seed):
    """Mirror of createSmallCnn: keep the two in step."""
    layers = keras.layers
    init = lambda i: keras.initializers.GlorotUniform(seed=seed + i)  # noqa: E731
    model = keras.Sequential(name="small_cnn")
    model.add(keras.Input(shape=(28, 28, 1)))
    for i, filters in enumerate((32, 64)):
        model.add(layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=init(i)))
        model.add(layers.BatchNormalization())
        model.add(layers.ReLU())
        model.add(layers.MaxPooling2D(2))
    model.add(layers.Flatten())
    model.add(layers.Dropout(0.25))
    model.add(layers.Dense(128, activation="relu", kernel_initializer=init(2)))
    model.add(layers.Dropout(0.4))
    model.add(layers.Dense(10, activation="softmax", kernel_initializer=init(3)))
    model.compile(
        optimizer=keras.optimizers.Adam(0.001),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def bench_train(x, y, batch, samples, repeats):
    model = small_cnn(seed=42)
    xs, ys = x[:samples], y[:samples]
    # Warm-up traces the train step (tf.function) and fills the thread pools.
    model.fit(xs[: batch * 4], ys[: batch * 4], batch_size=batch, epochs=1, shuffle=False, verbose=0)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(xs, ys, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        runs.append(samples / (time.perf_counter() - start))
    return summary(runs)


def bench_infer(x, batch, batches, repeats):
    model = small_cnn(seed=42)
    chunks = [x[i * batch : (i + 1) * batch] for i in range(batches)]
    model.predict_on_batch(chunks[0])
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for chunk in chunks:
            np.asarray(model.predict_on_batch(chunk))
        runs.append(batch * batches / (time.perf_counter() - start))
    return summary(runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--train-batches", default="64,256")
    ap.add_argument("--train-samples", type=int, default=8192)
    ap.add_argument("--infer-batch", type=int, default=1024)
    ap.add_argument("--infer-batches", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    x, y = load(args.data_dir, "train")
    train = {
        str(b): bench_train(x, y, b, args.train_samples, args.repeats)
        for b in (int(s) for s in args.train_batches.split(","))
    }
    infer = bench_infer(x, args.infer_batch, args.infer_batches, args.repeats)
    threading = tf.config.threading
    json.dump(
        {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "intra_op_threads": threading.get_intra_op_parallelism_threads() or "default",
            "inter_op_threads": threading.get_inter_op_parallelism_threads() or "default",
            "env": {k: os.environ[k] for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS") if k in os.environ},
            "train_samples_per_s": train,
            "infer_samples_per_s": {str(args.infer_batch): infer},
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
