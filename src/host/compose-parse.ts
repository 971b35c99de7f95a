// Pure parsers for what Compose and the host print. No I/O: unit-tested alone.
import type { Layout, ServiceState } from './types.js';

/** `docker compose ps --format json`: NDJSON in current v2, a JSON array in older v2. */
export function parsePs(stdout: string): ServiceState[] {
  const text = stdout.trim();
  if (!text) return [];
  let rows: Array<Record<string, unknown>>;
  if (text.startsWith('[')) rows = JSON.parse(text) as Array<Record<string, unknown>>;
  else rows = text.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  return rows.map((r) => {
    const s: ServiceState = { service: String(r.Service ?? ''), state: String(r.State ?? 'unknown') };
    if (typeof r.ExitCode === 'number') s.exitCode = r.ExitCode;
    if (typeof r.Image === 'string') s.image = r.Image;
    if (typeof r.Health === 'string' && r.Health) s.health = r.Health;
    return s;
  });
}

/** Tag of an image reference ("reg:5000/erpnext:v15" → "v15"; digests → "sha256:..."). */
export function imageTag(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  const at = ref.indexOf('@');
  if (at >= 0) return ref.slice(at + 1);
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? ref.slice(colon + 1) : 'latest';
}

export function imageRepo(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  const at = ref.indexOf('@');
  if (at >= 0) return ref.slice(0, at);
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? ref.slice(0, colon) : ref;
}

/** KEY=VALUE lines of a .env file (comments, blanks and `export ` tolerated; quotes stripped). */
export function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(raw);
    if (!m) continue;
    let v = m[2]!;
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    else v = v.replace(/\s+#.*$/, '');
    out[m[1]!] = v;
  }
  return out;
}

export interface ComposeModel {
  services: Record<string, { image?: string; restart?: string }>;
}

export function parseComposeConfig(stdout: string): ComposeModel {
  const j = JSON.parse(stdout) as { services?: Record<string, { image?: string; restart?: string }> };
  return { services: j.services ?? {} };
}

/** Services that must keep running (one-shot ones are allowed to have exited). */
export const ONE_SHOT_SERVICES = new Set(['configurator', 'create-site', 'migration']);

/**
 * How the ERPNext image tag is set, read from the *uninterpolated* image line
 * of the backend service. `.env` must drive the tag: a literal tag in a
 * compose file (pwd.yml, generated files) cannot be changed safely by us.
 */
export function detectLayout(
  rawImage: string | undefined,
  env: Record<string, string>,
  composeFiles: string,
): Layout & { imageVariable?: string } {
  if (!rawImage) return { kind: 'unknown', reason: 'the backend service has no image line' };
  if (/@sha256:/.test(rawImage) && !/\$/.test(rawImage.split('@')[1]!)) return { kind: 'baked', file: composeFiles };
  // Tag part: after the last ':' that is not inside ${...}.
  const m = /:(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|[A-Za-z0-9_][A-Za-z0-9_.-]*)$/.exec(rawImage);
  if (!m) return { kind: 'unknown', reason: `cannot find the tag in image "${rawImage}"` };
  const tagPart = m[1]!;
  const repoPart = rawImage.slice(0, m.index);
  const vars = [...tagPart.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((x) => x[1]!);
  if (vars.length === 0) return { kind: 'baked', file: composeFiles };
  // ${A:-$B}: the first variable set (non-empty) in .env wins, like Compose does.
  const variable = vars.find((v) => env[v] !== undefined && env[v] !== '');
  if (!variable) {
    return {
      kind: 'unknown',
      reason: `the image tag comes from ${vars.join(' / ')}, but none is set in .env (set it there so fleetkeeper can manage it)`,
    };
  }
  const imageVar = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)/.exec(repoPart)?.[1];
  return { kind: 'env', variable, ...(imageVar && env[imageVar] !== undefined ? { imageVariable: imageVar } : {}) };
}

/** `df -Pk` output → smallest free MiB over the listed filesystems. */
export function parseDfMinFreeMb(stdout: string): number | undefined {
  let min: number | undefined;
  for (const line of stdout.trim().split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    const avail = Number(cols[3]);
    if (Number.isFinite(avail)) min = Math.min(min ?? Infinity, Math.floor(avail / 1024));
  }
  return min;
}
