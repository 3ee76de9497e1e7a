// The Grafana dashboards under infra/grafana/dashboards and the PromQL of every panel target.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../lib/core/config.ts';

export const DASHBOARDS_DIR = join(REPO_ROOT, 'infra', 'grafana', 'dashboards');

export interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ refId: string; expr: string; legendFormat?: string }>;
  panels?: Panel[];
}

export interface Dashboard {
  file: string;
  json: { uid: string; title: string; panels: Panel[] };
}

export function loadDashboards(dir = DASHBOARDS_DIR): Dashboard[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(dir, file), 'utf8')) }));
}

export interface PanelQuery {
  /** "<file> › <panel title> › <refId>" for messages */
  where: string;
  dashboard: string;
  panel: string;
  expr: string;
}

/** Every target of every panel, including panels nested in collapsed rows. */
export function dashboardQueries(dashboards: Dashboard[]): PanelQuery[] {
  const out: PanelQuery[] = [];
  const visit = (file: string, panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        out.push({ where: `${file} › ${p.title} › ${t.refId}`, dashboard: file, panel: p.title, expr: t.expr });
      }
      if (p.panels) visit(file, p.panels);
    }
  };
  for (const d of dashboards) visit(d.file, d.json.panels);
  return out;
}
