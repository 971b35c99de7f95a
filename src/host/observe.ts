// Read-only look at a host: every command here has mutates=false, so the
// same code serves observe(), the live dry run and re-observation after a
// dropped connection.
import type { BackupRecord, Observation } from './types.js';
import { BENCH_SITES, composeArgv, hostPaths, type HostContext, type StepRecorder } from './context.js';
import { detectLayout, imageTag, parseComposeConfig, parseDfMinFreeMb, parseEnv, parsePs } from './compose-parse.js';
import { parseJournal, READ_JOURNAL } from './journal.js';
import { parseLockState, READ_LOCK } from './lock.js';
import { sh } from './shell.js';

const DISK = `# free disk
p=$1; shift
root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null || echo /var/lib/docker)
for d in "$p" "$@" "$root"; do
  while [ ! -e "$d" ]; do d=$(dirname "$d"); done
  echo "$d"
done | sort -u | xargs df -Pk`;

const LAST_BACKUP = `# last verified backup
[ -d "$1" ] || exit 0
ls -1t "$1"/*/manifest.json 2>/dev/null | head -n 1 | xargs -r cat`;

const LIST_SITES = `# list sites
cd "$1" && for d in */; do [ -f "$d/site_config.json" ] && echo "\${d%/}"; done; true`;

export interface ObservationDetail extends Observation {
  /** Parsed .env (values masked by the executor where they look secret). */
  env?: Record<string, string>;
  /** Image reference the backend would run with the current .env. */
  configuredImage?: string;
  /** Frappe sites found in the backend (when customer.sites is "all"). */
  sites?: string[];
  /** The observation could not be made (dry run offline). */
  simulated?: boolean;
}

export async function observe(ctx: HostContext, rec: StepRecorder): Promise<ObservationDetail> {
  const c = ctx.customer;
  const p = hostPaths(c);
  const compose = composeArgv(c);
  const o: ObservationDetail = { reachable: true, services: [] };

  // Independent read-only commands, issued together (the executor bounds the channels).
  const [envR, raw, cfg, ps, disk, lock, jr, lb] = await Promise.all([
    rec.run(['cat', p.env], { mutates: false, quiet: true }),
    rec.run([...compose, 'config', '--no-interpolate', '--format', 'json'], { mutates: false }),
    rec.run([...compose, 'config', '--format', 'json'], { mutates: false, quiet: true }),
    rec.run([...compose, 'ps', '-a', '--format', 'json'], { mutates: false, quiet: true }),
    rec.run(sh(DISK, p.dir, c.backup.dir), { mutates: false }),
    rec.run(sh(READ_LOCK, p.state), { mutates: false }),
    rec.run([...READ_JOURNAL, p.journal], { mutates: false, quiet: true }),
    rec.run(sh(LAST_BACKUP, p.backupRoot), { mutates: false, quiet: true }),
  ]);
  if (envR.simulated) return { reachable: false, services: [], simulated: true, error: 'offline: host not observed' };
  if ([envR, raw, ps].every((r) => r.code === null)) {
    return { reachable: false, services: [], error: envR.stderr.trim() || 'connection lost during observation' };
  }
  const env = envR.code === 0 ? parseEnv(envR.stdout) : {};
  if (envR.code === 0) o.env = env;
  o.composeConfigValid = cfg.code === 0;
  if (cfg.code !== 0) o.composeConfigError = (cfg.stderr || cfg.stdout).trim().slice(-500);
  const files = c.compose.files.length ? c.compose.files.join(', ') : 'compose.yaml (default)';
  if (raw.code === 0) {
    try {
      const rawModel = parseComposeConfig(raw.stdout);
      o.layout = detectLayout(rawModel.services.backend?.image, env, files);
      if (envR.code !== 0 && o.layout.kind === 'env') o.layout = { kind: 'unknown', reason: `${p.env} is missing or unreadable` };
    } catch (e) {
      o.layout = { kind: 'unknown', reason: `compose config is not JSON: ${(e as Error).message}` };
    }
  } else {
    o.layout = { kind: 'unknown', reason: 'docker compose config failed' };
  }
  if (cfg.code === 0) {
    try {
      o.configuredImage = parseComposeConfig(cfg.stdout).services.backend?.image;
    } catch {
      /* layout already says so */
    }
  }
  if (o.layout.kind === 'env') {
    o.envTag = env[o.layout.variable];
    if (o.layout.imageVariable) o.envImage = env[o.layout.imageVariable];
  }

  if (ps.code === 0) {
    o.services = parsePs(ps.stdout);
    o.runningTag = imageTag(o.services.find((s) => s.service === 'backend' && s.state === 'running')?.image);
    const conf = o.services.find((s) => s.service === 'configurator');
    if (conf && conf.state === 'exited' && conf.exitCode !== undefined) o.configuratorExitCode = conf.exitCode;
  }

  if (disk.code === 0) o.freeDiskMb = parseDfMinFreeMb(disk.stdout);

  if (lock.code === 0) o.lock = parseLockState(lock.stdout, p.lockMeta);

  if (jr.code === 0) o.journal = parseJournal(jr.stdout);

  if (lb.code === 0 && lb.stdout.trim()) {
    try {
      const m = JSON.parse(lb.stdout) as { backups?: BackupRecord[] };
      const db = m.backups?.[m.backups.length - 1];
      if (db) o.lastBackup = db;
    } catch {
      /* an unreadable manifest is not a verified backup */
    }
  }

  if (c.sites === 'all' && o.services.some((s) => s.service === 'backend' && s.state === 'running')) {
    const ls = await rec.run([...compose, 'exec', '-T', 'backend', ...sh(LIST_SITES, BENCH_SITES)], { mutates: false });
    if (ls.code === 0) o.sites = ls.stdout.split('\n').map((s) => s.trim()).filter((s) => /^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(s));
  } else if (Array.isArray(c.sites)) {
    o.sites = [...c.sites];
  }
  return o;
}

/** The Observation part of ObservationDetail (drop parsed .env and helpers from reports). */
export function publicObservation(o: ObservationDetail): Observation {
  const { env: _env, configuredImage: _ci, sites: _s, simulated: _sim, ...rest } = o;
  return rest;
}
