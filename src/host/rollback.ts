// Rollback after a failed change: the previous .env back, containers
// recreated on the old image, configurator again; if migrate had started,
// the database restored from this change's verified backup (Frappe cannot
// downgrade a schema) with the old image running; maintenance off; the health
// gate again. The caller turns the result into rolled-back / rollback-failed.
import type { BackupRecord } from './types.js';
import { BENCH_SITES, composeArgv, runStep, type HostContext } from './context.js';
import { restoreEnv } from './env-file.js';
import { healthGate } from './health.js';
import { maintenance, recreate, waitConfigurator } from './upgrade.js';
import { sh } from './shell.js';

const CHECK_SUM = `# check backup checksum
set -eu
[ -s "$1" ] || { echo "missing: $1"; exit 2; }
sum=$(sha256sum "$1" | cut -d' ' -f1)
[ "$sum" = "$2" ] || { echo "checksum mismatch for $1: $sum"; exit 3; }`;

export interface RollbackReport {
  healthy: boolean;
  actions: string[];
  problems: string[];
}

export async function rollback(
  ctx: HostContext,
  opts: { fromTag: string; migrateStarted: boolean; backups: BackupRecord[]; sites: string[]; reason: string },
): Promise<RollbackReport> {
  const actions: string[] = [];
  const problems: string[] = [];
  const c = ctx.customer;

  const back = await runStep(ctx, 'rollback', async (rec) => {
    await restoreEnv(ctx, rec);
    actions.push(`.env restored (${opts.fromTag})`);
    const up = await recreate(ctx, rec, `back to ${opts.fromTag}`);
    if (up.status === 'failed') return up;
    actions.push(`containers recreated on ${opts.fromTag}`);
    const conf = await waitConfigurator(ctx, rec, opts.fromTag);
    if (conf.status !== 'ok' && conf.status !== 'planned') return conf;
    return { status: ctx.mode === 'plan' ? 'planned' : 'ok', message: `rolling back because ${opts.reason}: .env restored, containers recreated on ${opts.fromTag}` };
  });
  if (back.status === 'failed' || back.status === 'unknown') problems.push(back.message);

  if (opts.migrateStarted) {
    for (const site of opts.sites) {
      const b = opts.backups.find((x) => x.site === site);
      const r = await runStep(ctx, 'restore', async (rec) => {
        if (!b) return { status: 'failed', message: `no verified backup of ${site} from this run: database NOT restored` };
        const chk = await rec.run(sh(CHECK_SUM, b.path, b.sha256), { mutates: false });
        if (chk.code !== 0 && !chk.simulated) return { status: 'failed', message: `backup ${b.path} failed its checksum: ${chk.stdout.trim()}` };
        const name = b.path.slice(b.path.lastIndexOf('/') + 1);
        const inContainer = `${BENCH_SITES}/${site}/private/backups/${name}`;
        const compose = composeArgv(c);
        const cp = await rec.run([...compose, 'cp', b.path, `backend:${inContainer}`], { mutates: true, timeoutSeconds: c.timeouts.backupSeconds });
        if (cp.code !== 0 && !cp.simulated) return { status: 'failed', message: `could not copy the backup into the backend (exit ${cp.code})` };
        const res = await rec.run([...compose, 'exec', '-T', 'backend', 'bench', '--site', site, 'restore', inContainer, '--force'], {
          mutates: true,
          timeoutSeconds: c.timeouts.migrateSeconds,
        });
        if (res.simulated) return { status: 'planned', message: `would restore ${site} from ${b.path}` };
        if (res.code !== 0) return { status: 'failed', message: `restore of ${site} failed (exit ${res.code})` };
        return { status: 'ok', message: `database of ${site} restored from ${b.path} (sha256 ${b.sha256.slice(0, 12)}…)` };
      });
      if (r.status === 'ok') actions.push(`database of ${site} restored from this run's verified backup`);
      else if (r.status !== 'planned') problems.push(r.message);
    }
  }

  const off = await runStep(ctx, 'maintenance-off', (rec) => maintenance(ctx, rec, opts.sites, false));
  if (off.status === 'ok') actions.push('maintenance mode off');
  else if (off.status !== 'planned') problems.push(off.message);

  if (ctx.mode === 'plan') return { healthy: true, actions, problems };
  const h = await runStep(ctx, 'health', (rec) => healthGate(ctx, rec, opts.sites));
  if (!h.healthy) problems.push(h.message);
  return { healthy: h.healthy, actions, problems };
}
