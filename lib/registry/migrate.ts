// Moves a registry between backends (directory ↔ S3, or bucket ↔ bucket): every version with its
// manifest, read and checked against its checksums, stored under the same id in the target
// (artifacts first, manifest last), read back and checked again; then the aliases. Idempotent: a
// version already in the target with the same checksum is left as it is, one with other bytes
// stops the migration with MODEL_INCOMPATIBLE rather than being overwritten.
import { MODEL_ALIASES, type ModelRegistry } from './model-registry.ts';

export interface MigrationReport {
  copied: string[];
  present: string[];
  /** alias → version, as the target has them afterwards */
  aliases: Record<string, string>;
}

export async function migrateRegistry(
  source: ModelRegistry,
  target: ModelRegistry,
  log: (line: string) => void = () => {},
): Promise<MigrationReport> {
  const report: MigrationReport = { copied: [], present: [], aliases: {} };
  for (const manifest of await source.list()) {
    const files = await source.files(manifest.version);
    const outcome = await target.importVersion(manifest, files);
    await target.verify(manifest.version);
    report[outcome].push(manifest.version);
    const bytes = [...files.values()].reduce((sum, b) => sum + b.length, 0);
    log(
      `${manifest.version}: ${outcome === 'copied' ? 'copied' : 'already there'} (${bytes} bytes, checksum verified)`,
    );
  }
  const wanted = await source.aliases();
  const current = await target.aliases();
  for (const alias of MODEL_ALIASES) {
    const version = wanted[alias] ?? null;
    if ((current[alias] ?? null) === version) continue;
    await target.setAlias(alias, version, { reason: 'migrate' });
    log(`${alias}: ${current[alias] ?? '-'} → ${version ?? '-'}`);
  }
  report.aliases = await target.aliases();
  return report;
}
