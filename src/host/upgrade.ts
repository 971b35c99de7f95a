// The change itself: maintenance mode, recreate, configurator, migrate.
// Migrate runs detached on the host (setsid, exit code and log written to the
// run's journal directory) and is polled, so a dropped SSH channel cannot kill
// it or hide its result; a start marker created with noclobber guarantees it
// is started at most once per run, whatever reconnects happen.
import { composeArgv, hostPaths, sleep, type HostContext, type StepOutcome, type StepRecorder } from './context.js';
import { imageTag, parsePs } from './compose-parse.js';
import { sh } from './shell.js';

export async function maintenance(ctx: HostContext, rec: StepRecorder, sites: string[], on: boolean): Promise<StepOutcome> {
  const exec = [...composeArgv(ctx.customer), 'exec', '-T', 'backend'];
  for (const s of sites) {
    const r = await rec.run([...exec, 'bench', '--site', s, 'set-maintenance-mode', on ? 'on' : 'off'], { mutates: true });
    if (r.code !== 0 && !r.simulated) return { status: 'failed', message: `maintenance mode ${on ? 'on' : 'off'} failed for ${s} (exit ${r.code})` };
  }
  const verb = rec.simulated ? 'would turn' : 'turned';
  return { status: rec.simulated ? 'planned' : 'ok', message: `${verb} maintenance mode ${on ? 'on' : 'off'} for ${sites.join(', ') || 'all sites'}` };
}

export async function recreate(ctx: HostContext, rec: StepRecorder, what: string): Promise<StepOutcome> {
  const c = ctx.customer;
  const r = await rec.run([...composeArgv(c), 'up', '-d', '--remove-orphans'], {
    mutates: true,
    timeoutSeconds: c.timeouts.pullSeconds + c.timeouts.commandSeconds,
  });
  if (r.simulated) return { status: 'planned', message: `would recreate the containers (${what}) with up -d --remove-orphans` };
  if (r.code !== 0) return { status: 'failed', message: `docker compose up -d failed (exit ${r.code})` };
  return { status: 'ok', message: `recreated the containers (${what})` };
}

/** Wait until the one-shot configurator has exited 0 with the expected image. */
export async function waitConfigurator(ctx: HostContext, rec: StepRecorder, tag: string): Promise<StepOutcome> {
  const c = ctx.customer;
  if (ctx.mode === 'plan') return { status: 'planned', message: `would wait for configurator (${tag}) to exit 0` };
  const deadline = Date.now() + Math.max(c.timeouts.commandSeconds * 2, 60) * 1000;
  let last = 'not found';
  for (;;) {
    const r = await rec.run([...composeArgv(c), 'ps', '-a', '--format', 'json', 'configurator'], { mutates: false, quiet: true });
    if (r.code === 0) {
      const all = parsePs(r.stdout);
      const conf = all.find((s) => s.service === 'configurator');
      if (!conf && all.length === 0) {
        // No such service in this layout (some installs have none): nothing to wait for.
        const svc = await rec.run([...composeArgv(c), 'config', '--services'], { mutates: false, quiet: true });
        if (svc.code === 0 && !svc.stdout.split('\n').includes('configurator')) return { status: 'ok', message: 'no configurator service' };
      }
      if (conf) {
        last = `${conf.state}${conf.exitCode !== undefined ? ` (exit ${conf.exitCode})` : ''} ${conf.image ?? ''}`.trim();
        const ran = imageTag(conf.image) === tag;
        if (conf.state === 'exited' && ran && conf.exitCode === 0) return { status: 'ok', message: `configurator exited 0 (${tag})`, exitCode: 0 };
        if (conf.state === 'exited' && ran && conf.exitCode !== 0) {
          return { status: 'failed', message: `configurator exited ${conf.exitCode} (${tag})`, exitCode: conf.exitCode ?? null };
        }
      }
    } else if (r.code === null) {
      return { status: 'unknown', message: 'connection lost while waiting for configurator' };
    }
    if (Date.now() > deadline) return { status: 'failed', message: `configurator did not exit 0 in time (last: ${last})` };
    await sleep(1000, ctx.signal);
  }
}

const START_MIGRATE = `# start migrate detached
set -eu
rd=$1 site=$2 t=$3; shift 3
mkdir -p "$rd"
if ! ( set -C; date -u +%Y-%m-%dT%H:%M:%SZ > "$rd/migrate-$site.started" ) 2>/dev/null; then echo ALREADY-STARTED; exit 0; fi
setsid sh -c 'rd=$1 site=$2 t=$3; shift 3
timeout -k 60 "$t" "$@" > "$rd/migrate-$site.log" 2>&1 < /dev/null
echo $? > "$rd/migrate-$site.rc.tmp"; mv "$rd/migrate-$site.rc.tmp" "$rd/migrate-$site.rc"' sh "$rd" "$site" "$t" "$@" < /dev/null > /dev/null 2>&1 &
echo STARTED`;

const MIGRATE_STATUS = `# migrate status
rd=$1 site=$2
if [ -e "$rd/migrate-$site.rc" ]; then echo "DONE $(cat "$rd/migrate-$site.rc")"; tail -c 3000 "$rd/migrate-$site.log" 2>/dev/null
elif [ -e "$rd/migrate-$site.started" ]; then echo "RUNNING since $(cat "$rd/migrate-$site.started")"
else echo NOT-STARTED; fi`;

export type MigrateState = { state: 'not-started' } | { state: 'running' } | { state: 'done'; code: number; log: string } | { state: 'unknown' };

export async function migrateStatus(ctx: HostContext, rec: StepRecorder, site: string): Promise<MigrateState> {
  const r = await rec.run(sh(MIGRATE_STATUS, hostPaths(ctx.customer, ctx.changeId).runDir(), site), { mutates: false, quiet: true });
  if (r.code !== 0 || r.simulated) return r.simulated ? { state: 'not-started' } : { state: 'unknown' };
  const first = r.stdout.split('\n')[0] ?? '';
  if (first.startsWith('DONE')) return { state: 'done', code: Number(first.split(' ')[1]), log: r.stdout.split('\n').slice(1).join('\n') };
  if (first.startsWith('RUNNING')) return { state: 'running' };
  return { state: 'not-started' };
}

/** Migrate every site: start detached unless already started for this change, then poll. */
export async function migrate(ctx: HostContext, rec: StepRecorder, sites: string[]): Promise<StepOutcome & { started: boolean }> {
  const c = ctx.customer;
  const rd = hostPaths(c, ctx.changeId).runDir();
  let started = false;
  const done: string[] = [];
  for (const site of sites) {
    let st = await migrateStatus(ctx, rec, site);
    if (st.state === 'unknown') return { status: 'unknown', message: `connection lost before migrate of ${site}`, started };
    if (st.state === 'not-started') {
      const argv = [...composeArgv(c), 'exec', '-T', 'backend', 'bench', '--site', site, 'migrate'];
      const r = await rec.run(sh(START_MIGRATE, rd, site, String(c.timeouts.migrateSeconds), ...argv), { mutates: true });
      if (r.simulated) {
        done.push(site);
        continue;
      }
      // From here on the database may be changed: rollback must restore it.
      started = true;
      if (r.code === null) return { status: 'unknown', message: `connection lost while starting migrate of ${site}`, started };
      if (r.code !== 0) return { status: 'failed', message: `could not start migrate for ${site} (exit ${r.code})`, started };
    } else {
      started = true;
      rec.outputs.push(`migrate of ${site} was already started for run ${ctx.changeId}: not starting it again, waiting for its result`);
    }
    const deadline = Date.now() + (c.timeouts.migrateSeconds + 120) * 1000;
    let wait = 500;
    for (;;) {
      st = await migrateStatus(ctx, rec, site);
      if (rec.reconnected) {
        // The link dropped while migrate ran: report it, let the caller re-observe, then resume waiting.
        return { status: 'unknown', message: `SSH connection dropped while migrate of ${site} was running (it keeps running on the host)`, started };
      }
      if (st.state === 'done') break;
      if (st.state === 'unknown') return { status: 'unknown', message: `connection lost while migrate of ${site} was running (it keeps running on the host)`, started };
      if (Date.now() > deadline) return { status: 'failed', message: `migrate of ${site} did not finish within ${c.timeouts.migrateSeconds}s`, started };
      await sleep(wait, ctx.signal);
      wait = Math.min(wait * 2, 5000);
    }
    if (st.code !== 0) {
      rec.outputs.push(st.log);
      return { status: 'failed', message: `migrate of ${site} failed (exit ${st.code})`, exitCode: st.code, started };
    }
    done.push(site);
  }
  if (ctx.mode === 'plan') return { status: 'planned', message: `would run bench migrate for ${sites.join(', ')} (detached, up to ${c.timeouts.migrateSeconds}s)`, started };
  return { status: 'ok', message: `migrated ${done.join(', ')}`, exitCode: 0, started };
}

/** Wait (never start) until no migrate of this change is running: before undoing an interrupted change. */
export async function waitMigrateIdle(ctx: HostContext, rec: StepRecorder, sites: string[]): Promise<StepOutcome> {
  if (ctx.mode === 'plan') return { status: 'planned', message: `would wait for any migrate of run ${ctx.changeId} still running` };
  const deadline = Date.now() + (ctx.customer.timeouts.migrateSeconds + 120) * 1000;
  const seen: string[] = [];
  for (const site of sites) {
    for (let wait = 500; ; wait = Math.min(wait * 2, 5000)) {
      const st = await migrateStatus(ctx, rec, site);
      if (st.state === 'unknown') return { status: 'unknown', message: `cannot read the migrate state of ${site}` };
      if (st.state !== 'running') {
        seen.push(`${site}: ${st.state === 'done' ? `finished with exit ${st.code}` : 'never started'}`);
        break;
      }
      if (Date.now() > deadline) return { status: 'failed', message: `migrate of ${site} from run ${ctx.changeId} is still running after ${ctx.customer.timeouts.migrateSeconds}s` };
      await sleep(wait, ctx.signal);
    }
  }
  return { status: 'ok', message: `no migrate of run ${ctx.changeId} running (${seen.join('; ')})` };
}
