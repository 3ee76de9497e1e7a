// A progress bar on stderr when it is a terminal; silent otherwise (logs and CI stay clean).
import cliProgress from 'cli-progress';

export interface Progress {
  setTotal(total: number): void;
  update(done: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

export function createProgress(opts: { label: string; enabled?: boolean; stream?: NodeJS.WriteStream }): Progress {
  const stream = opts.stream ?? process.stderr;
  if (!(opts.enabled ?? stream.isTTY)) return { setTotal() {}, update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${opts.label} [{bar}] {percentage}% {value}/{total} | {rate}/s | eta {eta_formatted} {note}`,
      hideCursor: true,
      etaBuffer: 200,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  let active = false;
  return {
    setTotal(total) {
      if (!active) bar.start(total, 0, { rate: 0, note: '' });
      else bar.setTotal(total);
      active = true;
    },
    update(done, payload = {}) {
      if (!active) return;
      const secs = Math.max(0.001, (Date.now() - started) / 1000);
      bar.update(done, { rate: Math.round(done / secs), note: '', ...payload });
    },
    stop() {
      if (active) bar.stop();
      active = false;
    },
  };
}
