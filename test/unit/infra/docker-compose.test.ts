// docker-compose.yml cannot be run here (no Docker engine), so its shape is checked instead:
// services, images, ports, healthchecks, mounts, and every pixelflow variable against CONFIG_SPEC.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kafkaNodePorts } from '../../../infra/stack/kafka.ts';
import { CONFIG_SPEC, loadConfig, parseEnvFile, REPO_ROOT } from '../../../lib/core/config.ts';
import { registryLocation } from '../../../lib/registry/model-registry.ts';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const PIXELFLOW = ['preprocess', 'trainer', 'serve', 'demo'];
const CONFIG_VARS = new Set((Object.values(CONFIG_SPEC) as Array<{ env: string }>).map((s) => s.env));

/** The value a service will see, with ${VAR:-default} resolved from `vars` (an --env-file) or its default. */
function envOf(name: string, vars: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(services[name].environment ?? {})) {
    out[k] = String(v).replace(
      /\$\{([A-Z_]+):-([^}]*)\}/g,
      (_, name: string, fallback: string) => vars[name] ?? fallback,
    );
  }
  return out;
}

function hostPorts(name: string): number[] {
  return (services[name].ports ?? []).map((p) => Number(String(p).split(':')[0]));
}

describe('docker-compose.yml', () => {
  it('compose runs the infrastructure and the pixelflow services', () => {
    expect(Object.keys(services).sort()).toEqual([
      'clickhouse',
      'demo',
      'grafana',
      'kafka',
      'kafka-2',
      'kafka-3',
      'minio',
      'preprocess',
      'prometheus',
      'serve',
      'trainer',
    ]);
  });

  it('compose pins the infrastructure images', () => {
    expect(services.kafka.image).toBe('apache/kafka:3.9.1');
    expect(services.clickhouse.image).toMatch(/^clickhouse\/clickhouse-server:\d+\.\d+/);
    expect(services.prometheus.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(services.grafana.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    expect(services.minio.image).toMatch(/^minio\/minio:RELEASE\.\d{4}-\d{2}-\d{2}T/);
  });

  it('compose gives every long-running service a healthcheck', () => {
    // One-shot jobs (restart: "no", like the demo) finish instead of serving; nothing to probe.
    for (const [name, s] of Object.entries(services).filter(([, s]) => (s as { restart?: string }).restart !== 'no')) {
      expect(s.healthcheck?.test?.length, name).toBeGreaterThan(1);
    }
  });

  it('compose builds the pixelflow services from infra/Dockerfile and runs their CLI command', () => {
    expect(existsSync(join(REPO_ROOT, 'infra', 'Dockerfile'))).toBe(true);
    const cliCommands = readFileSync(join(REPO_ROOT, 'cli', 'main.ts'), 'utf8');
    for (const name of PIXELFLOW) {
      const s = services[name];
      expect(s.build, name).toEqual({ context: '.', dockerfile: 'infra/Dockerfile' });
      expect(s.image, name).toBe('pixelflow:local');
      expect(cliCommands, name).toContain(`  ${s.command![0]}: {`);
      const needs = ['trainer', 'serve'].includes(name) ? ['clickhouse', 'kafka', 'minio'] : ['clickhouse', 'kafka'];
      expect(Object.keys(s.depends_on ?? {}).sort(), name).toEqual(needs);
    }
  });

  it('compose sets only variables that lib/core/config.ts declares, with values it accepts', () => {
    for (const name of PIXELFLOW) {
      const env = envOf(name);
      for (const key of Object.keys(env)) expect(CONFIG_VARS, `${name}: ${key}`).toContain(key);
      // loadConfig validates every value exactly as the service will at start-up
      const config = loadConfig({ ...env, PIXELFLOW_STATE_DIR: env.PIXELFLOW_STATE_DIR });
      expect(config.kafkaBrokers, name).toEqual(['kafka:9092']);
      expect(config.clickhouseUrl, name).toBe('http://clickhouse:8123');
      expect(config.prometheusUrl, name).toBe('http://prometheus:9090');
      expect(config.httpHost, name).toBe('0.0.0.0');
    }
  });

  it('compose gives pixelflow the ClickHouse credentials the server is created with', () => {
    const ch = envOf('clickhouse');
    for (const name of PIXELFLOW) {
      const env = envOf(name);
      expect(env.CLICKHOUSE_USER).toBe(ch.CLICKHOUSE_USER);
      expect(env.CLICKHOUSE_PASSWORD).toBe(ch.CLICKHOUSE_PASSWORD);
      // The demo plays in a namespace of its own; the server's user may create it (access management on).
      if (name === 'demo') expect(env.CLICKHOUSE_DATABASE).toBe('pixelflow_demo');
      else expect(env.CLICKHOUSE_DATABASE).toBe(ch.CLICKHOUSE_DB);
    }
    expect(ch.CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT).toBe('1');
  });

  it('compose publishes the same host ports as the local stack and the serve port it listens on', () => {
    expect(hostPorts('kafka')).toEqual([19092]);
    expect(hostPorts('clickhouse')).toEqual([18123]);
    expect(hostPorts('prometheus')).toEqual([19090]);
    expect(hostPorts('grafana')).toEqual([3000]);
    const serve = envOf('serve');
    expect(services.serve.ports).toEqual([`${serve.PIXELFLOW_HTTP_PORT}:${serve.PIXELFLOW_HTTP_PORT}`]);
    expect(services.serve.healthcheck!.test.join(' ')).toContain(`127.0.0.1:${serve.PIXELFLOW_HTTP_PORT}/health/live`);
    for (const name of ['preprocess', 'trainer']) {
      const port = envOf(name).PIXELFLOW_METRICS_PORT;
      expect(services[name].expose, name).toEqual([port]);
      expect(services[name].healthcheck!.test.join(' '), name).toContain(`127.0.0.1:${port}/health/live`);
    }
  });

  it('compose advertises a Kafka listener for containers and one for the host', () => {
    const env = envOf('kafka');
    expect(env.KAFKA_ADVERTISED_LISTENERS).toContain('kafka:9092');
    expect(env.KAFKA_ADVERTISED_LISTENERS).toContain('localhost:19092');
    expect(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe('1');
    expect(Number(env.KAFKA_MESSAGE_MAX_BYTES)).toBeGreaterThanOrEqual(loadConfig({}).maxImageBytes);
  });

  it('compose profile "cluster" makes three KRaft nodes of one cluster, with internal topics at RF 3 / min ISR 2', () => {
    const vars = parseEnvFile(readFileSync(join(REPO_ROOT, 'infra', 'compose', 'cluster.env'), 'utf8'));
    const nodes = ['kafka', 'kafka-2', 'kafka-3'];
    for (const name of ['kafka-2', 'kafka-3']) {
      expect((services[name] as { profiles?: string[] }).profiles, name).toEqual(['cluster']);
      expect(services[name].image, name).toBe(services.kafka.image);
    }
    const envs = nodes.map((name) => envOf(name, vars));
    expect(envs.map((env) => env.KAFKA_NODE_ID)).toEqual(['1', '2', '3']);
    // One cluster: every node names the same voters (each one of these nodes) and the same id.
    const voters = envs[0].KAFKA_CONTROLLER_QUORUM_VOTERS;
    expect(voters).toBe('1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093');
    for (const env of envs) {
      expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(voters);
      expect(env.CLUSTER_ID).toBe(envs[0].CLUSTER_ID);
      expect(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe('3');
      expect(env.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR).toBe('3');
      expect(env.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR).toBe('2');
      expect(env.KAFKA_MIN_INSYNC_REPLICAS).toBe('2');
    }
    // Each node advertises itself to containers and on the host port `pixelflow up --brokers 3` uses.
    nodes.forEach((name, i) => {
      const hostPort = kafkaNodePorts({ kafka: 19092, kafkaController: 19093 } as never, i + 1).broker;
      expect(envs[i].KAFKA_ADVERTISED_LISTENERS, name).toBe(`INTERNAL://${name}:9092,EXTERNAL://localhost:${hostPort}`);
      expect(hostPorts(name), name).toEqual([hostPort]);
      expect(services[name].volumes?.[0], name).toMatch(new RegExp(`^${name}-data:`));
    });
    // The pipeline bootstraps from all three and creates its topics with RF 3.
    for (const name of PIXELFLOW) {
      const config = loadConfig(envOf(name, vars));
      expect(config.kafkaBrokers, name).toEqual(nodes.map((n) => `${n}:9092`));
      expect(config.replicationFactor, name).toBe(3);
    }
  });

  it('compose shares the model registry between trainer and serve through MinIO with its credentials', () => {
    const minio = envOf('minio');
    expect(services.minio.command).toEqual(['server', '/data', '--console-address', ':9001']);
    expect(services.minio.volumes).toContain('minio-data:/data');
    expect(Object.keys(compose.volumes)).toContain('minio-data');
    for (const name of ['trainer', 'serve']) {
      const config = loadConfig(envOf(name));
      expect(config.registryUrl, name).toBe('s3://pixelflow-models/registry');
      expect(registryLocation(config).s3, name).toMatchObject({
        endpoint: 'http://minio:9000',
        accessKeyId: minio.MINIO_ROOT_USER,
        secretAccessKey: minio.MINIO_ROOT_PASSWORD,
        forcePathStyle: true,
      });
    }
    // The demo plays with a registry directory of its own.
    expect(loadConfig(envOf('demo')).registryUrl).toBe('file:///data/demo-models');
  });

  it('compose mounts Prometheus and Grafana configuration that exists', () => {
    for (const name of ['prometheus', 'grafana']) {
      for (const v of services[name].volumes ?? []) {
        const [src] = v.split(':');
        if (src.startsWith('./')) expect(existsSync(join(REPO_ROOT, src)), `${name}: ${src}`).toBe(true);
      }
    }
  });

  it('compose Prometheus scrapes every pixelflow service on the port it serves metrics on', () => {
    const prom = parse(readFileSync(join(REPO_ROOT, 'infra', 'prometheus', 'prometheus.compose.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; dns_sd_configs?: Array<{ names: string[]; port: number }> }>;
    };
    const job = prom.scrape_configs.find((j) => j.job_name === 'pixelflow')!;
    const targets = Object.fromEntries(job.dns_sd_configs!.map((d) => [d.names[0], d.port]));
    expect(targets).toEqual({
      preprocess: Number(envOf('preprocess').PIXELFLOW_METRICS_PORT),
      trainer: Number(envOf('trainer').PIXELFLOW_METRICS_PORT),
      serve: Number(envOf('serve').PIXELFLOW_HTTP_PORT),
    });
    expect(services.prometheus.volumes).toContain('./infra/prometheus/rules:/etc/prometheus/rules:ro');
    expect(prom.rule_files).toEqual(['/etc/prometheus/rules/*.yml']);
  });

  it('compose Grafana loads dashboards from the folder the provisioning file names', () => {
    const provider = parse(
      readFileSync(join(REPO_ROOT, 'infra', 'grafana', 'provisioning', 'dashboards', 'pixelflow.yml'), 'utf8'),
    ) as {
      providers: Array<{ options: { path: string } }>;
    };
    expect(services.grafana.volumes).toContain(`./infra/grafana/dashboards:${provider.providers[0].options.path}:ro`);
    const home = envOf('grafana').GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    const file = home.replace(provider.providers[0].options.path, join(REPO_ROOT, 'infra', 'grafana', 'dashboards'));
    expect(existsSync(file), file).toBe(true);
  });
});
