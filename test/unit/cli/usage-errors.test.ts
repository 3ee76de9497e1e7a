// Every command checks its flags before it connects to anything: a bad one is one line naming the
// flag and what it accepts, and exit status 2. No services run in unit tests, so a command that
// tried to connect first would fail differently (exit 1, after a connection error).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../cli/main.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

async function run(argv: string[]): Promise<{ code: number; err: string }> {
  const error = vi.spyOn(console, 'error').mockImplementation(() => {});
  const code = await main(argv);
  return { code, err: error.mock.calls.flat().join('\n') };
}

describe('pixelflow commands refuse bad flags before connecting', () => {
  it.each([
    [['serve', '--port', 'abc'], "pixelflow serve: --port: expected an integer in 0..65535, got 'abc'"],
    [['serve', '--port', '65536'], "pixelflow serve: --port: expected an integer in 0..65535, got '65536'"],
    [['serve', '--stream'], "pixelflow serve: unknown flag '--stream'; expected one of --host, --port, --no-stream"],
    [
      ['preprocess', '--spec', 'gray29'],
      "pixelflow preprocess: --spec: expected a preprocessing spec: gray28, rgb96, gray48, rgb96x64 (or a version such as gray28@1), got 'gray29'",
    ],
    [
      ['train', '--once', '--task', 'pose'],
      "pixelflow train: --task: expected one of classification, keypoints, segmentation, got 'pose'",
    ],
    [
      ['train', '--request', '--task', 'keypoints'],
      'pixelflow train: --task: not with --request (the running trainer trains its own pipeline task)',
    ],
    [
      ['demo', '--task', 'detection'],
      "pixelflow demo: --task: expected one of classification, keypoints, segmentation, got 'detection'",
    ],
    [
      ['demo', '--task', 'keypoints', '--keep-running'],
      'pixelflow demo: --keep-running: only for the classification demo',
    ],
    [
      ['preprocess', '--session-timeout', '10'],
      "pixelflow preprocess: --session-timeout: expected an integer in 6000..1800000, got '10'",
    ],
    [
      ['preprocess', '--partitions', '0'],
      "pixelflow preprocess: --partitions: expected an integer in 1..1024, got '0'",
    ],
    [
      ['ingest', 'fashion-mnist', '--rate', 'fast'],
      "pixelflow ingest: --rate: expected a number in 0..1000000, got 'fast'",
    ],
    [
      ['ingest', 'fashion-mnist', '--split', 'val'],
      "pixelflow ingest: --split: expected one of train, test, got 'val'",
    ],
    [
      ['ingest', 'some/folder', '--as-split', 'holdout'],
      "pixelflow ingest: --as-split: expected one of train, val, test, unlabeled, got 'holdout'",
    ],
    [
      ['ingest', '--format', 'voc', 'data/x'],
      "pixelflow ingest: --format: expected one of kaggle-keypoints, coco-keypoints, mask-pairs, got 'voc'",
    ],
    [
      ['ingest', '--format', 'mask-pairs', 'data/cars', '--images', 'data/img'],
      'pixelflow ingest: --images: only with --format coco-keypoints',
    ],
    [['ingest', 'data/cars', '--classes', 'bg,car'], 'pixelflow ingest: --classes: only with --format mask-pairs'],
    [
      ['ingest', 'some/folder', '--max-wait=-1'],
      "pixelflow ingest: --max-wait: expected a number in 0..604800, got '-1'",
    ],
    [['models', 'verdicts', '--limit', '0'], "pixelflow models: --limit: expected an integer in 1..1000, got '0'"],
    [
      ['models', 'promote', 'latest'],
      "pixelflow models: <version>: expected a model version such as v0003, got 'latest'",
    ],
    [
      ['query', 'throughput', '--format', 'xml'],
      "pixelflow query: --format: expected one of table, json, csv, got 'xml'",
    ],
    [
      ['query', '--sql', 'SELECT 1', '--limit', 'all'],
      "pixelflow query: --limit: expected an integer in 1..10000, got 'all'",
    ],
    [['query', 'throughput', '--since', 'yesterday'], 'pixelflow query: --since: expected a relative time'],
    [['train', '--once', '--epochs', '0'], "pixelflow train: --epochs: expected an integer in 1..1000, got '0'"],
    [['train', '--request', '--lr', 'fast'], "pixelflow train: --lr: expected a number in 1e-9..1, got 'fast'"],
    [['train', '--once', '--from', 'last week'], 'pixelflow train: --from: expected an ISO date/time'],
    [['replay', '--from', '0:1-2'], 'pixelflow replay: --into: required (a topic role such as raw, or a topic name)'],
    [['up', '--brokers', '12'], "pixelflow up: --brokers: expected an integer in 1..9, got '12'"],
    [['status', '--verbose'], "pixelflow status: unknown flag '--verbose'; this command takes no flags"],
    [['doctor', 'now'], "pixelflow doctor: unexpected argument 'now'; this command takes only flags"],
    [['bench', 'nope'], "pixelflow bench: unknown benchmark 'nope'"],
  ])('%j exits 2: %s', async (argv, message) => {
    const { code, err } = await run(argv);
    expect(err.startsWith(message), err).toBe(true);
    expect(err.split('\n')).toHaveLength(1);
    expect(code).toBe(2);
  });
});
