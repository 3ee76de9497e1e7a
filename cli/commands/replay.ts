// `pixelflow replay`: re-emit a range of a topic (by offsets or by time) into another topic,
// keyed by image id, e.g. images.raw into a fresh deployment to re-preprocess with a new spec.
import { parseFlags, requiredFlag, usageError } from '../../lib/core/args.ts';
import { createServiceContext } from '../../lib/runtime/context.ts';
import { describeSelector, selectorFromArgs } from '../../lib/streams/range-spec.ts';
import { replayRange, topicFor } from '../../lib/streams/replay.ts';
import type { Command } from '../command.ts';

const USAGE = `pixelflow replay --from <ISO time | epoch ms | offsets 0:100-200,1:0-50> [--to <ISO time | epoch ms>]
                        [--topic raw|preprocessed|<topic name>] --into <topic role or name> [--json]

Offsets are [from, to) per partition; "2:10-" reads partition 2 from offset 10 to the end.
Times select messages whose Kafka timestamp is in [from, to). The source defaults to preprocessed.`;

export const command: Command = {
  summary: 're-emit a range of a topic (by offsets or time) into a topic',
  usage: USAGE,
  async run(args) {
    const { values } = parseFlags(args, {
      from: { type: 'string' },
      to: { type: 'string' },
      topic: { type: 'string' },
      into: { type: 'string' },
      json: { type: 'boolean' },
    });
    const into = requiredFlag(values.into, '--into', 'a topic role such as raw, or a topic name');
    if (values.from === undefined && values.to === undefined) {
      throw usageError(
        '--from: required: a time, epoch ms, or offsets like 0:100-200 (replaying a whole topic must be asked for explicitly: --from 1970-01-01)',
      );
    }
    const selector = selectorFromArgs(values.from, values.to, { from: '--from', to: '--to' });
    const ctx = await createServiceContext('replay', { migrate: false });
    ctx.lifecycle.installSignalHandlers({ exit: false });
    try {
      const producer = await ctx.kafka.createProducer();
      const from = values.topic ?? 'preprocessed';
      const started = Date.now();
      const result = await replayRange(
        { kafka: ctx.kafka, producer, topics: ctx.topics },
        {
          from,
          into,
          selector,
          signal: ctx.lifecycle.signal,
          onProgress: (copied, total) => {
            if (process.stderr.isTTY) process.stderr.write(`\rreplayed ${copied}/${total}`);
          },
        },
      );
      if (process.stderr.isTTY) process.stderr.write('\n');
      const summary = {
        from: topicFor(from, ctx.topics),
        into: topicFor(into, ctx.topics),
        range: describeSelector(selector),
        offsets: result.selection.ranges,
        read: result.read,
        written: result.written,
        skipped_outside_time_range: result.skipped,
        seconds: (Date.now() - started) / 1000,
      };
      if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else {
        process.stdout.write(
          `replayed ${summary.written} of ${summary.read} messages from ${summary.from} into ${summary.into} (${summary.range}; ` +
            `offsets ${summary.offsets.map((r) => `${r.partition}:${r.from}-${r.to}`).join(',') || 'none'}) in ${summary.seconds.toFixed(1)} s\n`,
        );
      }
      return 0;
    } finally {
      await ctx.lifecycle.close('replay done');
    }
  },
};
