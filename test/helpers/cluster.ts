// A private multi-broker stack for tests that kill or stop brokers (the shared stack is never
// touched): `pixelflow up --brokers N` through the CLI, in a temp state dir on free ports, and a
// stop() that takes it down and deletes it. Used by the cluster test and the fault suite.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaNodeName, kafkaNodePorts } from '../../infra/stack/kafka.ts';
import { processCommandLine } from '../../infra/stack/process.ts';
import { freePorts } from './ports.ts';

const STACK_VARS = ['KAFKA_BROKERS', 'CLICKHOUSE_URL', 'PROMETHEUS_URL', 'PIXELFLOW_TOPIC_PREFIX'];
const cli = join(import.meta.dirname, '..', '..', 'bin', 'pixelflow.js');

export interface ClusterNode {
  /** KRaft node id (1-based); node 1 is the service 'kafka', the others 'kafka-N'. */
  node: number;
  endpoint: string;
  /** Pid of the node's JVM now (re-read, so it follows a restart()). */
  pid(): number;
  /** SIGKILL, no warning: the broker's own log flush and shutdown never run. */
  kill(): void;
  alive(): boolean;
}

export interface PrivateCluster {
  /** host:port of every node, for kafkajs `brokers` and KAFKA_BROKERS. */
  brokers: string[];
  nodes: ClusterNode[];
  clickhouseUrl: string;
  prometheusUrl: string;
  stateDir: string;
  /** The environment that points pixelflow (CLI, services, loadConfig) at this stack. */
  env: Record<string, string>;
  /** Runs a pixelflow CLI command against this stack. */
  cli(args: string[], timeoutMs?: number): Promise<{ code: number | null; out: string }>;
  /** `up` again: restarts whatever was killed; the remembered broker count is reused. */
  restart(): Promise<void>;
  /** `down --purge` and delete the state dir; safe to call twice. */
  stop(): Promise<void>;
}

function runCli(args: string[], env: Record<string, string>, timeoutMs: number) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    // The caller's own stack (the shared one) must not leak into the private stack's commands.
    const merged: NodeJS.ProcessEnv = { ...process.env };
    for (const name of STACK_VARS) delete merged[name];
    const child = spawn(process.execPath, [cli, ...args], {
      env: { ...merged, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c;
    });
    const timer = setTimeout(() => {
      out += `\n[cluster helper] pixelflow ${args.join(' ')} did not finish within ${timeoutMs} ms; killed`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

export async function startPrivateCluster(opts: { brokers?: number } = {}): Promise<PrivateCluster> {
  const brokers = opts.brokers ?? 3;
  const stateDir = mkdtempSync(join(tmpdir(), 'pixelflow-cluster-'));
  const others = await freePorts(4);
  // node n: broker base + 2(n−1), controller base + 2(n−1) + 1
  const [base] = await freePorts(2 * brokers, { consecutive: true });
  const [http, tcp, interserver, prometheus] = others;
  const env: Record<string, string> = {
    PIXELFLOW_STATE_DIR: stateDir,
    PIXELFLOW_KAFKA_PORT: String(base),
    PIXELFLOW_KAFKA_CONTROLLER_PORT: String(base + 1),
    PIXELFLOW_CLICKHOUSE_HTTP_PORT: String(http),
    PIXELFLOW_CLICKHOUSE_TCP_PORT: String(tcp),
    PIXELFLOW_CLICKHOUSE_INTERSERVER_PORT: String(interserver),
    PIXELFLOW_PROMETHEUS_PORT: String(prometheus),
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const down = await runCli(['down', '--purge'], env, 120_000);
    rmSync(stateDir, { recursive: true, force: true });
    if (down.code !== 0) throw new Error(`pixelflow down on the private cluster failed:\n${down.out}`);
  };
  const up = await runCli(['up', '--brokers', String(brokers)], env, 300_000);
  if (up.code !== 0) {
    await stop().catch(() => {});
    throw new Error(`pixelflow up --brokers ${brokers} failed (exit ${up.code}):\n${up.out}`);
  }
  const stackEnv = Object.fromEntries(
    readFileSync(join(stateDir, 'stack.env'), 'utf8')
      .split('\n')
      .map((line) => /^([A-Z_]+)=(.*)$/.exec(line))
      .filter((m) => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  Object.assign(env, {
    KAFKA_BROKERS: stackEnv.KAFKA_BROKERS,
    CLICKHOUSE_URL: stackEnv.CLICKHOUSE_URL,
    PROMETHEUS_URL: stackEnv.PROMETHEUS_URL,
  });
  const ports = { kafka: base, kafkaController: base + 1 } as Parameters<typeof kafkaNodePorts>[0];
  const pidOf = (node: number) => {
    const name = kafkaNodeName(node);
    return Number(readFileSync(join(stateDir, name, `${name}.pid`), 'utf8').trim());
  };
  const nodes = Array.from({ length: brokers }, (_, i): ClusterNode => {
    const node = i + 1;
    return {
      node,
      endpoint: `127.0.0.1:${kafkaNodePorts(ports, node).broker}`,
      pid: () => pidOf(node),
      kill: () => process.kill(pidOf(node), 'SIGKILL'),
      alive: () => processCommandLine(pidOf(node)) !== undefined,
    };
  });
  return {
    brokers: stackEnv.KAFKA_BROKERS.split(','),
    nodes,
    clickhouseUrl: stackEnv.CLICKHOUSE_URL,
    prometheusUrl: stackEnv.PROMETHEUS_URL,
    stateDir,
    env,
    cli: (args, timeoutMs = 120_000) => runCli(args, env, timeoutMs),
    async restart() {
      const again = await runCli(['up'], env, 300_000);
      if (again.code !== 0) throw new Error(`pixelflow up (restart) failed:\n${again.out}`);
    },
    stop,
  };
}
