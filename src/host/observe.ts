// Read-only look at a host: every command here has mutates=false, so the
// same code serves observe(), the live dry run and re-observation after a
// dropped connection.
import type { BackupRecord, Observation } from './types.js';
import { BENCH_SITES, composeArgv, hostPaths, type HostContext, type StepRecorder } from './context.js';
import { detectLayout, imageTag, parseComposeConfig, parseDfMinFreeMb, parseEnv, parsePs } from './compose-parse.js';
import { parseJournal } from './journal.js';
import { parseLockState, READ_LOCK } from './lock.js';
import { sh } from './shell.js';
import { parseSections, SECTIONS_SETUP, sectionsPrint, type ObservedSection } from './sections.js';

export { parseSections as parseObserveSections, type ObservedSection } from './sections.js';

// Every read-only look at the host in ONE remote command: the pieces run as
// shell functions (their own subshells, so an `exit` ends only that piece),
// at most two Compose processes at a time (like the two channels we used to
// open), each writing to a private temp dir; then every section is printed
// with its exit code between markers and parsed here. Values arrive only as
// positional parameters.
export const OBSERVE = `# observe host (read-only)
envf=$1 state=$2 journal=$3 broot=$4 bdir=$5 dir=$6 want_sites=$7 bench_sites=$8; shift 8
${SECTIONS_SETUP}
disk() {
p=$1; shift
root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null || echo /var/lib/docker)
for d in "$p" "$@" "$root"; do
  while [ ! -e "$d" ]; do d=$(dirname "$d"); done
  echo "$d"
done | sort -u | xargs df -Pk
}
readlock() {
${READ_LOCK}
}
lastbackup() {
[ -d "$1" ] || exit 0
ls -1t "$1"/*/manifest.json 2>/dev/null | head -n 1 | xargs -r cat
}
run raw "$@" config --no-interpolate --format json &
run cfg "$@" config --format json &
run env cat "$envf"
run disk disk "$dir" "$bdir"
run lock readlock "$state"
run journal sh -c 'cat "$1" 2>/dev/null || true' sh "$journal"
run backup lastbackup "$broot"
wait
run ps "$@" ps -a --format json &
if [ "$want_sites" = 1 ]; then
  run sites "$@" exec -T backend sh -c 'cd "$1" && for d in */; do [ -f "$d/site_config.json" ] && echo "\${d%/}"; done; true' sh "$bench_sites" &
fi
wait
${sectionsPrint('env raw cfg ps disk lock journal backup sites')}`;


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

  const r = await rec.run(
    [...sh(OBSERVE, p.env, p.state, p.journal, p.backupRoot, c.backup.dir, p.dir, c.sites === 'all' ? '1' : '0', BENCH_SITES), ...compose],
    { mutates: false, quiet: true },
  );
  if (r.simulated) return { reachable: false, services: [], simulated: true, error: 'offline: host not observed' };
  if (r.code === null) return { reachable: false, services: [], error: r.stderr.trim() || 'connection lost during observation' };
  const section = parseSections(r.stdout, r);
  const [envR, raw, cfg, ps, disk, lock, jr, lb] = ['env', 'raw', 'cfg', 'ps', 'disk', 'lock', 'journal', 'backup'].map(section) as [
    ObservedSection, ObservedSection, ObservedSection, ObservedSection, ObservedSection, ObservedSection, ObservedSection, ObservedSection,
  ];
  // What a person wants to see in the report's detail view (not .env: it may hold secrets).
  for (const s of [disk, lock]) if (s.stdout.trim()) rec.outputs.push(s.stdout.trim());
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
    const ls = section('sites');
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
