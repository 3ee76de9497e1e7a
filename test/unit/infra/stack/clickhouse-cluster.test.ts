// The ClickHouse cluster's layout (infra/stack/clickhouse-cluster.ts): node names, derived ports that
// never overlap, and the per-node config (remote_servers with every node, unique {replica} macros).
import { describe, expect, it } from 'vitest';
import {
  CLICKHOUSE_CLUSTER_NAME,
  CLUSTER_NODES,
  clusterConfigXml,
  clusterNodePorts,
} from '../../../../infra/stack/clickhouse-cluster.ts';
import { resolveStackConfig } from '../../../../infra/stack/config.ts';

const { ports } = resolveStackConfig('/tmp/pf-unit', {});

describe('ClickHouse cluster layout', () => {
  it('names 2 shards × 2 replicas and gives each node its own HTTP, native and interserver port', () => {
    expect(CLUSTER_NODES.map((n) => n.name)).toEqual([
      'clickhouse-s1r1',
      'clickhouse-s1r2',
      'clickhouse-s2r1',
      'clickhouse-s2r2',
    ]);
    const all = CLUSTER_NODES.flatMap((n) => Object.values(clusterNodePorts(ports, n)));
    expect(new Set(all).size).toBe(12);
    expect(Math.min(...all)).toBe(18200);
    expect(Math.max(...all)).toBe(18211);
    const single = [ports.clickhouseHttp, ports.clickhouseTcp, ports.clickhouseInterserver, ports.zookeeper];
    expect(all.filter((p) => single.includes(p))).toEqual([]);
  });

  it('configures every node with the whole cluster, ZooKeeper and its own macros', () => {
    const replicas = new Set<string>();
    for (const node of CLUSTER_NODES) {
      const xml = clusterConfigXml(ports, node);
      expect(xml.match(/<shard><internal_replication>true<\/internal_replication>/g)).toHaveLength(2);
      for (const other of CLUSTER_NODES) expect(xml).toContain(`<port>${clusterNodePorts(ports, other).tcp}</port>`);
      expect(xml).toContain(`<node><host>127.0.0.1</host><port>${ports.zookeeper}</port></node>`);
      expect(xml).toContain(`<${CLICKHOUSE_CLUSTER_NAME}>`);
      expect(xml).toContain(`<shard>${node.shard}</shard>`);
      replicas.add(/<replica>(s\dr\d)<\/replica>/.exec(xml)![1]);
    }
    // Unique across the cluster, so a table replicated to every node (schema_migrations) can use it.
    expect(replicas.size).toBe(4);
  });
});
