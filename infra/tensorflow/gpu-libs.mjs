// Where setup-native.mjs --gpu gets a CUDA build of libtensorflow, in this order:
//   1. the `tensorflow` wheel (the GPU build of the same TF as the CPU recipe), via pip;
//   2. TensorFlow Java's native GPU jar from Maven Central (org.tensorflow:tensorflow-core-native,
//      classifier linux-x86_64-gpu), via mvn. It carries libtensorflow_cc.so.2 and
//      libtensorflow_framework.so.2 built with CUDA but no headers: those come from the CPU
//      wheel's extraction (the binding uses only TensorFlow's C API, which is stable across versions).
// pip's index on a machine may lack the `tensorflow` wheel (only `tensorflow-cpu` is mirrored on
// pixelflow's CI), so the jar is the route that works there. Each result is cached under
// PIXELFLOW_CACHE_DIR and laid out as the CPU recipe's extraction (tensorflow/lib*.so.2, tensorflow/include).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const MAVEN_ARTIFACT = {
  group: 'org.tensorflow',
  artifact: 'tensorflow-core-native',
  version: process.env.PIXELFLOW_TF_JAVA_VERSION ?? '1.1.0',
  classifier: 'linux-x86_64-gpu',
};
const LIBS = ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'];

/** pip download of `name==version` into dir (no deps); returns the wheel's path or throws. */
export function pipWheel(py, name, version, dir, log) {
  mkdirSync(dir, { recursive: true });
  const have = readdirSync(dir).find((f) => f.endsWith('.whl'));
  if (have) return join(dir, have);
  log(`downloading ${name}==${version} wheel with pip (once; cached in ${dir})`);
  const started = Date.now();
  execFileSync(py, ['-m', 'pip', 'download', '--no-deps', `${name}==${version}`, '-d', dir], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, PIP_RETRIES: process.env.PIP_RETRIES ?? '0' },
  });
  const got = readdirSync(dir).find((f) => f.endsWith('.whl'));
  if (!got) throw new Error(`pip did not produce a ${name} wheel in ${dir}`);
  log(`${got} downloaded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return join(dir, got);
}

/** Extracts the two libraries and the header trees the binding needs; returns the extraction root. */
export function extractWheel(py, wheel, out, stampText) {
  if (existsSync(join(out, '.done'))) return out;
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const script = `
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
keep_files = ('tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2')
keep_dirs = ('tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/core/platform/',
             'tensorflow/include/tsl/', 'tensorflow/include/xla/')
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n in keep_files or n.startswith(keep_dirs)]
    missing = [f for f in keep_files if f not in names]
    if missing:
        sys.exit('wheel lacks ' + ', '.join(missing))
    for n in names:
        z.extract(n, out)
`;
  execFileSync(py, ['-c', script, wheel, out], { stdio: 'inherit' });
  writeFileSync(join(out, '.done'), stampText);
  return out;
}

/** The jar through mvn into a repository inside the cache, then its two libraries beside `headersFrom`'s headers. */
export function mavenGpuLibs(py, cacheRoot, headersFrom, log) {
  const { group, artifact, version, classifier } = MAVEN_ARTIFACT;
  const dir = join(cacheRoot, `${artifact}-${version}-${classifier}`);
  const out = join(dir, 'extracted');
  if (existsSync(join(out, '.done'))) return out;
  const repo = join(dir, 'm2');
  const jar = join(repo, ...group.split('.'), artifact, version, `${artifact}-${version}-${classifier}.jar`);
  if (!existsSync(jar)) {
    log(`downloading ${group}:${artifact}:${version}:${classifier} with mvn (once; cached in ${dir})`);
    const started = Date.now();
    execFileSync(
      'mvn',
      [
        '-q',
        '-B',
        `-Dmaven.repo.local=${repo}`,
        'dependency:get',
        '-Dtransitive=false',
        `-Dartifact=${group}:${artifact}:${version}:jar:${classifier}`,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    log(`jar downloaded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'tensorflow'), { recursive: true });
  log('extracting the CUDA build of libtensorflow from the jar');
  const script = `
import sys, zipfile, shutil, os
jar, out, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
with zipfile.ZipFile(jar) as z:
    for lib in sys.argv[4:]:
        with z.open(prefix + lib) as src, open(os.path.join(out, 'tensorflow', lib), 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
`;
  const prefix = `org/tensorflow/internal/c_api/${classifier}/`;
  execFileSync(py, ['-c', script, jar, out, prefix, ...LIBS], { stdio: 'inherit' });
  symlinkSync(join(headersFrom, 'tensorflow', 'include'), join(out, 'tensorflow', 'include'));
  writeFileSync(join(out, '.done'), `${artifact}-${version}-${classifier}`);
  return out;
}
