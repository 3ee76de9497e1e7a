"""Keras reference for bench/tf-backend.ts: the same small CNN (lib/ml/models.ts createSmallCnn), the
same Fashion-MNIST data and the same timing, on TensorFlow 2.21.

A worker, so the Node bench can alternate tfjs and Keras repeats and a load spike on the shared
machine hits both sides alike. Reads one JSON command per line on stdin, answers one JSON line on
stdout (logs go to stderr):
  {"op": "train", "batch": 64, "samples": 4096}    one timed fit over `samples` images
  {"op": "predict", "batch": 1024, "batches": 4}   `batches` timed predict_on_batch calls
  {"op": "quit"}
The first command for a batch size builds the model and runs its warm-up (traces the tf.function)
untimed. Answers carry wall and process CPU seconds (all threads).

Manual run: echo '{"op": "train", "batch": 64, "samples": 2048}' | python tf_backend_bench.py
"""

import argparse
import gzip
import json
import os
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
    """Mirror of createSmallCnn in lib/ml/models.ts: change both together."""
    layers = keras.layers
    init = lambda i: keras.initializers.GlorotUniform(seed=seed + i)  # noqa: E731
    model = keras.Sequential(name="small_cnn")
    model.add(keras.Input(shape=(28, 28, 1)))
    for i, filters in enumerate((32, 64)):
        model.add(layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer=init(i)))
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


def timed(run):
    c0, t0 = time.process_time(), time.perf_counter()
    run()
    return {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}


class Worker:
    def __init__(self, x, y):
        self.x, self.y = x, y
        self.train_models = {}
        self.predict_model = None

    def train(self, batch, samples):
        xs, ys = self.x[:samples], self.y[:samples]
        model = self.train_models.get(batch)
        if model is None:
            model = self.train_models[batch] = small_cnn(seed=42)
            model.fit(xs[: batch * 4], ys[: batch * 4], batch_size=batch, epochs=1, shuffle=False, verbose=0)
        return timed(lambda: model.fit(xs, ys, batch_size=batch, epochs=1, shuffle=False, verbose=0))

    def predict(self, batch, batches):
        chunks = [self.x[i * batch : (i + 1) * batch] for i in range(batches)]
        if self.predict_model is None:
            self.predict_model = small_cnn(seed=42)
            self.predict_model.predict_on_batch(chunks[0])

        def run():
            for chunk in chunks:
                np.asarray(self.predict_model.predict_on_batch(chunk))

        return timed(run)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()
    x, y = load(args.data_dir, "train")
    worker = Worker(x, y)
    threading = tf.config.threading
    hello = {
        "ready": True,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "intra_op_threads": threading.get_intra_op_parallelism_threads() or "default",
        "inter_op_threads": threading.get_inter_op_parallelism_threads() or "default",
        "env": {k: os.environ[k] for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS") if k in os.environ},
        # Keras resolves jit_compile="auto" to no XLA on CPU-only machines; recorded so a change shows.
        "jit_compile": bool(small_cnn(seed=42).jit_compile),
    }
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        if cmd["op"] == "train":
            out = worker.train(int(cmd["batch"]), int(cmd["samples"]))
        elif cmd["op"] == "predict":
            out = worker.predict(int(cmd["batch"]), int(cmd["batches"]))
        else:
            out = {"error": f"unknown op {cmd['op']}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
