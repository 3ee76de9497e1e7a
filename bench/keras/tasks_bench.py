"""Keras reference for bench/tasks.ts: the keypoint CNN (spatial soft-argmax) and the U-Net of
lib/tasks/, built layer for layer as there, trained and run on the same TensorFlow 2.21. Throughput
only: both sides see the same shapes of seeded random data (accuracy is the demos' job).

A JSON-lines worker like tf_backend_bench.py, so the Node bench alternates tfjs and Keras repeats:
  {"op": "train", "task": "keypoints", "batch": 32, "samples": 1024}
  {"op": "predict", "task": "segmentation", "batch": 64, "batches": 4}
  {"op": "quit"}
The first command for a (task, op, batch) builds the model and warms it up untimed.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

layers = keras.layers
KEYPOINT_SHAPE = (48, 48, 1)  # spec gray48
POINTS = 15
SEG_SHAPE = (64, 96, 3)  # spec rgb96x64


class SpatialSoftArgmax(layers.Layer):
    """Mirror of spatialSoftArgmax in lib/tasks/keypoints.ts."""

    def call(self, x):
        h, w, k = x.shape[1], x.shape[2], x.shape[3]
        flat = tf.transpose(tf.reshape(x, [-1, h * w, k]), [0, 2, 1])
        p = tf.nn.softmax(flat)
        cols = tf.tile((tf.range(w, dtype=tf.float32) + 0.5) / w, [h])
        rows = (tf.reshape(tf.tile(tf.reshape(tf.range(h, dtype=tf.float32), [h, 1]), [1, w]), [h * w]) + 0.5) / h
        ex = tf.reduce_sum(p * cols, -1)
        ey = tf.reduce_sum(p * rows, -1)
        return tf.reshape(tf.stack([ex, ey], 2), [-1, 2 * k])


def masked_mse(y_true, y_pred):
    w = tf.cast(y_true >= 0, tf.float32)
    return tf.reduce_sum(w * tf.square(y_pred - y_true)) / tf.maximum(tf.reduce_sum(w), 1.0)


def keypoint_cnn(width=32):
    """Mirror of createKeypointCnn in lib/tasks/keypoints.ts: change both together."""
    model = keras.Sequential(name="keypoint_cnn")
    model.add(keras.Input(shape=KEYPOINT_SHAPE))
    conv = lambda f: layers.Conv2D(f, 3, padding="same", activation="relu", kernel_initializer="he_normal")  # noqa: E731
    model.add(conv(width))
    model.add(layers.MaxPooling2D(2))
    model.add(conv(2 * width))
    model.add(layers.MaxPooling2D(2))
    for _ in range(3):
        model.add(conv(4 * width))
    model.add(layers.Conv2D(POINTS, 1))
    model.add(SpatialSoftArgmax())
    model.compile(optimizer=keras.optimizers.Adam(0.002), loss=masked_mse)
    return model


def bce_dice(y_true, y_pred, smooth=1.0):
    bce = tf.reduce_mean(keras.losses.binary_crossentropy(y_true, y_pred))
    inter = tf.reduce_sum(y_true * y_pred)
    dice = (2 * inter + smooth) / (tf.reduce_sum(y_true) + tf.reduce_sum(y_pred) + smooth)
    return bce + 1 - dice


def unet(width=16, depth=3):
    """Mirror of createUNet in lib/tasks/segmentation.ts: change both together."""

    def block(x, f):
        for _ in range(2):
            x = layers.Conv2D(f, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
            x = layers.BatchNormalization(momentum=0.9)(x)
            x = layers.ReLU()(x)
        return x

    inp = keras.Input(shape=SEG_SHAPE)
    skips, x = [], inp
    for level in range(depth):
        x = block(x, width * 2**level)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = block(x, width * 2**depth)
    for level in reversed(range(depth)):
        x = layers.UpSampling2D(2)(x)
        x = layers.Concatenate()([x, skips[level]])
        x = block(x, width * 2**level)
    out = layers.Conv2D(1, 1, activation="sigmoid")(x)
    model = keras.Model(inp, out, name="unet")
    model.compile(optimizer=keras.optimizers.Adam(0.002), loss=bce_dice)
    return model


def data(task, n):
    rng = np.random.default_rng(1)
    if task == "keypoints":
        return rng.random((n, *KEYPOINT_SHAPE), dtype=np.float32), rng.random((n, 2 * POINTS), dtype=np.float32)
    x = rng.random((n, *SEG_SHAPE), dtype=np.float32)
    return x, (rng.random((n, SEG_SHAPE[0], SEG_SHAPE[1], 1)) > 0.5).astype(np.float32)


def timed(run):
    c0, t0 = time.process_time(), time.perf_counter()
    run()
    return {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}


class Worker:
    def __init__(self):
        self.models = {}

    def model(self, task, op, batch, warm):
        key = (task, op, batch)
        if key not in self.models:
            m = keypoint_cnn() if task == "keypoints" else unet()
            warm(m)
            self.models[key] = m
        return self.models[key]

    def train(self, task, batch, samples):
        x, y = data(task, samples)
        m = self.model(task, "train", batch, lambda m: m.fit(x[: batch * 2], y[: batch * 2], batch_size=batch, verbose=0))
        return timed(lambda: m.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0))

    def predict(self, task, batch, batches):
        x, _ = data(task, batch * batches)
        chunks = [x[i * batch : (i + 1) * batch] for i in range(batches)]
        m = self.model(task, "predict", batch, lambda m: m.predict_on_batch(chunks[0]))

        def run():
            for chunk in chunks:
                np.asarray(m.predict_on_batch(chunk))

        return timed(run)


def main():
    worker = Worker()
    print(json.dumps({"ready": True, "tensorflow": tf.__version__, "keras": keras.__version__}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        if cmd["op"] == "train":
            out = worker.train(cmd["task"], int(cmd["batch"]), int(cmd["samples"]))
        elif cmd["op"] == "predict":
            out = worker.predict(cmd["task"], int(cmd["batch"]), int(cmd["batches"]))
        else:
            out = {"error": f"unknown op {cmd['op']}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
