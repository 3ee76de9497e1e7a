// PIXELFLOW_PIPELINES: the pipelines one serve hosts. Each named one derives its namespace from the
// default one's unless its entry says otherwise; bad entries fail naming the pipeline and the key.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configToEnv, parseConfig, pipelineConfigs } from '../../../../lib/core/config.ts';

const base = { PIXELFLOW_STATE_DIR: '/srv/pf', PIXELFLOW_TOPIC_PREFIX: 'acme', CLICKHOUSE_DATABASE: 'acme' };
const parse = (pipelines: string, extra: Record<string, string> = {}) =>
  parseConfig({ ...base, ...extra, PIXELFLOW_PIPELINES: pipelines });
const refusal = (pipelines: string, extra: Record<string, string> = {}) => {
  try {
    parse(pipelines, extra);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
};

describe('PIXELFLOW_PIPELINES', () => {
  it('unset: the default pipeline only, which is the configuration itself', () => {
    const config = parseConfig(base);
    expect(config.pipelines).toEqual([]);
    expect(pipelineConfigs(config)).toEqual([{ name: 'default', config }]);
  });

  it('a name alone derives topics, database and registry as the demo namespace does; the spec is the default one', () => {
    const config = parse('default, faces, demo-keypoints');
    const [def, faces, demo] = pipelineConfigs(config);
    expect([def.name, faces.name, demo.name]).toEqual(['default', 'faces', 'demo-keypoints']);
    expect(def.config).toBe(config);
    expect(faces.config).toMatchObject({
      topicPrefix: 'acme-faces',
      clickhouseDatabase: 'acme_faces',
      registryDir: '/srv/pf/faces/models',
      registryUrl: pathToFileURL('/srv/pf/faces/models').href,
      spec: config.spec,
      pipelines: [],
      kafkaBrokers: config.kafkaBrokers,
    });
    expect(faces.config.registryCacheDir).not.toBe(config.registryCacheDir);
    expect(demo.config).toMatchObject({
      topicPrefix: 'acme-demo-keypoints',
      clickhouseDatabase: 'acme_demo_keypoints',
    });
  });

  it('keys set topics, database, registry (URL or path) and spec', () => {
    const config = parse(
      'faces topics=faces-v2 database=faces_db registry=./faces-models spec=gray48, cars registry=s3://models/cars spec=rgb96x64',
    );
    const [, faces, cars] = pipelineConfigs(config);
    expect(faces.config).toMatchObject({
      topicPrefix: 'faces-v2',
      clickhouseDatabase: 'faces_db',
      registryDir: join(process.cwd(), 'faces-models'),
      spec: 'gray48',
    });
    expect(cars.config).toMatchObject({ topicPrefix: 'acme-cars', registryUrl: 's3://models/cars', spec: 'rgb96x64' });
  });

  it('with an s3 registry, a pipeline without one gets a prefix of its own under it', () => {
    const config = parse('cars', { PIXELFLOW_REGISTRY_URL: 's3://models/main/' });
    expect(pipelineConfigs(config)[1].config.registryUrl).toBe('s3://models/main/cars');
  });

  it('goes back to the same text for a child process', () => {
    const config = parse('faces spec=gray48 topics=f, cars');
    expect(configToEnv(config).PIXELFLOW_PIPELINES).toBe('faces topics=f spec=gray48, cars');
    expect(parseConfig(configToEnv(config)).pipelines).toEqual(config.pipelines);
  });

  it.each([
    ['Faces', "pipeline name 'Faces'"],
    ['9lives', "pipeline name '9lives'"],
    ['faces/x', "pipeline name 'faces/x'"],
    ['faces, faces', "pipeline 'faces' is declared twice"],
    ['default spec=gray48', "pipeline 'default' takes no keys"],
    ['faces colour=red', "pipeline 'faces': 'colour=red' is not one of topics=…, database=…, registry=…, spec=…"],
    ['faces spec', "pipeline 'faces': 'spec' is not one of"],
    ['faces spec=', "pipeline 'faces', key spec: empty value"],
    ['faces spec=gray99', "pipeline 'faces', key spec: expected a preprocessing spec"],
    ['faces spec=gray48 spec=gray28', "pipeline 'faces', key spec: set twice"],
    ['faces topics=a/b', "pipeline 'faces', key topics: expected a Kafka topic prefix, got 'a/b'"],
    ['faces database=faces-db', "pipeline 'faces', key database: expected a name of letters, digits and _"],
    ['faces registry=http://x/models', "pipeline 'faces', key registry: expected file:///path, s3://bucket/prefix"],
    ['faces registry=s3://B', "pipeline 'faces', key registry: expected s3://bucket/prefix"],
    ['faces topics=acme', "pipelines 'default' and 'faces' share topics acme"],
    ['faces database=acme_cars, cars', "pipelines 'faces' and 'cars' share database acme_cars"],
    ['a registry=/r, b registry=file:///r', "pipelines 'a' and 'b' share registry file:///r"],
  ])('refuses %j, naming the pipeline and the key', (raw, message) => {
    const got = refusal(raw);
    expect(got).toContain('PIXELFLOW_PIPELINES: ');
    expect(got).toContain(message);
  });
});
