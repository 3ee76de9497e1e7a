// ZooKeeper for the replicated ClickHouse cluster (`pixelflow up --clickhouse-cluster`): ClickHouse
// 18.16 keeps replication logs and the distributed DDL queue in ZooKeeper (it has no Keeper). The
// server comes with the Kafka 3.9 jars (zookeeper-3.8.4), so nothing more is downloaded; one
// standalone node on loopback, small heap.
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { PORT_ENV_VARS, type StackConfig, type StackPorts } from './config.ts';
import { ensureKafkaJars, javaBinary, kafkaClasspath } from './kafka.ts';
import { spawnDetached, writeFileAtomic } from './process.ts';
import { type ServiceDriver, serviceDir } from './service.ts';

const MAIN_CLASS = 'org.apache.zookeeper.server.ZooKeeperServerMain';

const zkDir = (cfg: StackConfig) => serviceDir(cfg, 'zookeeper');
const configFile = (cfg: StackConfig) => join(zkDir(cfg), 'zoo.cfg');
const logFile = (cfg: StackConfig) => join(zkDir(cfg), 'zookeeper.log');

function writeConfig(cfg: StackConfig): void {
  const dataDir = join(zkDir(cfg), 'data');
  mkdirSync(dataDir, { recursive: true });
  writeFileAtomic(
    configFile(cfg),
    [
      '# Written by infra/stack/zookeeper.ts (pixelflow up --clickhouse-cluster)',
      'tickTime=2000',
      `dataDir=${dataDir}`,
      `clientPort=${cfg.ports.zookeeper}`,
      'clientPortAddress=127.0.0.1',
      // Four ClickHouse servers keep a session each, plus their fetch and DDL threads.
      'maxClientCnxns=0',
      // The readiness probe asks `srvr`; the admin HTTP server would take port 8080.
      '4lw.commands.whitelist=ruok,srvr,mntr',
      'admin.enableServer=false',
      // Keep the data dir small: purge old snapshots and logs every hour.
      'autopurge.snapRetainCount=3',
      'autopurge.purgeInterval=1',
      '',
    ].join('\n'),
  );
  writeFileAtomic(
    join(zkDir(cfg), 'log4j.properties'),
    [
      'log4j.rootLogger=WARN, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      '',
    ].join('\n'),
  );
}

/**
 * ZooKeeper's four-letter `srvr`: a node that serves requests names its mode. (`ruok` answers
 * `imok` while the server is still loading, and ClickHouse 18.16 can crash on a session refused then.)
 */
export function zookeeperAnswers(port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let answer = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => socket.write('srvr'));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
    });
    socket.once('end', () => finish(/^Mode: (standalone|leader|follower)/m.test(answer)));
    socket.once('error', () => finish(false));
  });
}

export const zookeeperDriver: ServiceDriver = {
  name: 'zookeeper',
  readyTimeoutMs: 60_000,
  ports: (ports: StackPorts) => [{ port: ports.zookeeper, envVar: PORT_ENV_VARS.zookeeper }],
  markers: (cfg) => [MAIN_CLASS, configFile(cfg)],
  logFile,
  endpoint: (ports) => `127.0.0.1:${ports.zookeeper}`,
  isHealthy: (ports) => zookeeperAnswers(ports.zookeeper),
  async prepare(ctx) {
    await ensureKafkaJars(ctx, join(zkDir(ctx.cfg), 'maven.log'));
    writeConfig(ctx.cfg);
  },
  launch({ cfg }) {
    return spawnDetached({
      command: javaBinary(),
      args: [
        '-Xmx128m',
        '-XX:+UseSerialGC',
        '-Djava.awt.headless=true',
        '-Dzookeeper.admin.enableServer=false',
        `-Dlog4j.configuration=file:${join(zkDir(cfg), 'log4j.properties')}`,
        '-cp',
        kafkaClasspath(cfg),
        MAIN_CLASS,
        configFile(cfg),
      ],
      logFile: logFile(cfg),
      cwd: zkDir(cfg),
    });
  },
};
