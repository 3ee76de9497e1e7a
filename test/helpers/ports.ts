// Free loopback ports for tests that start their own listeners (a private stack, a port blocker).
//
// The ports come from below the kernel's ephemeral range, never from it: a port the kernel hands
// out for `listen(0)` is also one it hands out for outgoing connections, so between "free a moment
// ago" and the service's own bind, any client on the machine (another broker of the same cluster
// dialing its controller quorum, a test's kafkajs) can take it as its local port, and the service
// dies with "Address already in use". CI saw exactly that on a 3-broker cluster.
import { readFileSync } from 'node:fs';
import { isPortFree } from '../../infra/stack/ports.ts';

/** Ports this process has handed out: never handed out twice, even after the listener is gone. */
const handedOut = new Set<number>();

/** [low, high] for listeners: from 10000 up to just below the ephemeral range (Linux's first port). */
export function listenerPortRange(): [number, number] {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && low > 12_000) return [10_000, low - 1];
  } catch {
    // not Linux: the IANA dynamic range starts at 49152
  }
  return [20_000, 32_767];
}

async function claim(ports: number[]): Promise<boolean> {
  for (const p of ports) if (handedOut.has(p) || !(await isPortFree(p))) return false;
  for (const p of ports) handedOut.add(p);
  return true;
}

/**
 * n distinct ports that were free a moment ago, outside the ephemeral range. `consecutive` asks
 * for a run base, base + 1, …, base + n − 1 (a Kafka cluster numbers its nodes' ports that way).
 */
export async function freePorts(n: number, opts: { consecutive?: boolean } = {}): Promise<number[]> {
  const [low, high] = listenerPortRange();
  const pick = () => low + Math.floor(Math.random() * (high - low + 1));
  if (opts.consecutive) {
    for (let attempt = 0; attempt < 500; attempt++) {
      const base = Math.min(pick(), high - n + 1);
      const run = Array.from({ length: n }, (_, i) => base + i);
      if (await claim(run)) return run;
    }
    throw new Error(`no ${n} consecutive free ports in ${low}-${high}`);
  }
  const out: number[] = [];
  for (let attempt = 0; out.length < n && attempt < 500 * n; attempt++) {
    const p = pick();
    if (await claim([p])) out.push(p);
  }
  if (out.length < n) throw new Error(`only ${out.length} of ${n} free ports found in ${low}-${high}`);
  return out;
}
