// The change itself: maintenance mode, recreate, configurator, migrate.
// Migrate runs detached on the host (setsid, exit code and log written to the
// run's journal directory) and is polled, so a dropped SSH channel cannot kill
// it or hide its result; a start marker created with noclobber guarantees it
// is started at most once per run, whatever reconnects happen.
import { composeArgv, hostPaths, sleep, type HostContext, type StepOutcome, type StepRecorder } from './context.js';
import { imageTag, parsePs } from './compose-parse.js';
import { sh } from './shell.js';
import { siteLabel } from './backup.js';
import { JOURNAL_FROM_STDIN } from './journal.js';

export async function maintenance(ctx: HostContext, rec: StepRecorder, sites: string[], on: boolean): Promise<StepOutcome> {
  const exec = [...composeArgv(ctx.customer), 'exec', '-T', 'backend'];
  for (const s of sites) {
    const r = await rec.run([...exec, 'bench', '--site', s, 'set-maintenance-mode', on ? 'on' : 'off'], { mutates: true });
    if (r.code !== 0 && !r.simulated) return { status: 'failed', message: `maintenance mode ${on ? 'on' : 'off'} failed for ${s} (exit ${r.code})` };
  }
  // A plan never turns anything on, even when no command was recorded (offline, sites "all").
  const planned = ctx.mode === 'plan' || rec.simulated;
  const verb = planned ? 'would turn' : 'turned';
  return { status: planned ? 'planned' : 'ok', message: `${verb} maintenance mode ${on ? 'on' : 'off'} for ${siteLabel(ctx, sites)}` };
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

// Waits on the host (up to $2 s, checking every second) until configurator has
// exited with an image of tag $1, or it is not there at all; then prints what
// `ps` says, for the client to decide. Saves a round trip per second of waiting.
const CONFIGURATOR_WAIT = `# wait for configurator
tag=$1 wait=$2; shift 2
i=0
while :; do
  out=$("$@" ps -a --format json configurator) || { rc=$?; printf '%s\\n' "$out"; exit $rc; }
  [ -z "$out" ] && break
  if printf '%s' "$out" | grep -Eq '"State": ?"exited"'; then
    printf '%s' "$out" | grep -qF "$tag\\"" && break
    printf '%s' "$out" | grep -Eq '"Image": ?"(sha256:)?[0-9a-f]{12,64}"' && break
  fi
  [ $i -ge "$wait" ] && break
  sleep 1; i=$((i + 1))
done
printf '%s\\n' "$out"`;

/**
 * Did this configurator container run the image we just set? `compose ps`
 * names the image by tag, or by bare image ID when the tag was re-pushed after
 * the container was created (the tag no longer points at its image). `up -d`
 * has just recreated every service whose image changed, so an untagged ID here
 * is the container `up` made, not an old one.
 */
export function configuratorRanTag(image: string | undefined, tag: string): boolean {
  if (!image) return false;
  return imageTag(image) === tag || /^(sha256:)?[0-9a-f]{12,64}$/.test(image);
}

/** Wait until the one-shot configurator has exited 0 with the expected image. */
export async function waitConfigurator(ctx: HostContext, rec: StepRecorder, tag: string): Promise<StepOutcome> {
  const c = ctx.customer;
  if (ctx.mode === 'plan') return { status: 'planned', message: `would wait for configurator (${tag}) to exit 0` };
  const deadline = Date.now() + Math.max(c.timeouts.commandSeconds * 2, 60) * 1000;
  let last = 'not found';
  for (;;) {
    const left = Math.max(0, Math.min(30, Math.ceil((deadline - Date.now()) / 1000)));
    const r = await rec.run([...sh(CONFIGURATOR_WAIT, tag, String(left)), ...composeArgv(c)], {
      mutates: false,
      quiet: true,
      timeoutSeconds: left + c.timeouts.commandSeconds,
    });
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
        const ran = configuratorRanTag(conf.image, tag);
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
rd=$1 site=$2 t=$3 journal=$4; shift 4
mkdir -p "$rd"
# the journal says "migrating" before migrate can touch the database (same round trip)
${JOURNAL_FROM_STDIN}
if ! ( set -C; date -u +%Y-%m-%dT%H:%M:%SZ > "$rd/migrate-$site.started" ) 2>/dev/null; then echo ALREADY-STARTED; exit 0; fi
setsid sh -c 'rd=$1 site=$2 t=$3; shift 3
timeout -k 60 "$t" "$@" > "$rd/migrate-$site.log" 2>&1 < /dev/null
echo $? > "$rd/migrate-$site.rc.tmp"; mv "$rd/migrate-$site.rc.tmp" "$rd/migrate-$site.rc"' sh "$rd" "$site" "$t" "$@" < /dev/null > /dev/null 2>&1 &
echo STARTED`;

// Waits on the host (up to $3 s) while migrate runs, instead of the client
// polling over SSH: answers as soon as the result file appears.
const MIGRATE_STATUS = `# migrate status
rd=$1 site=$2 wait=\${3:-0}
i=0
while [ -e "$rd/migrate-$site.started" ] && [ ! -e "$rd/migrate-$site.rc" ] && [ $i -lt $((wait * 5)) ]; do sleep 0.2; i=$((i + 1)); done
if [ -e "$rd/migrate-$site.rc" ]; then echo "DONE $(cat "$rd/migrate-$site.rc")"; tail -c 3000 "$rd/migrate-$site.log" 2>/dev/null
elif [ -e "$rd/migrate-$site.started" ]; then echo "RUNNING since $(cat "$rd/migrate-$site.started")"
else echo NOT-STARTED; fi`;

export type MigrateState = { state: 'not-started' } | { state: 'running' } | { state: 'done'; code: number; log: string } | { state: 'unknown' };

/** Seconds one status call may wait on the host for migrate to finish (keepalives still watch the link). */
const MIGRATE_WAIT_SECONDS = 20;

export async function migrateStatus(ctx: HostContext, rec: StepRecorder, site: string, waitSeconds = 0): Promise<MigrateState> {
  const r = await rec.run(sh(MIGRATE_STATUS, hostPaths(ctx.customer, ctx.changeId).runDir(), site, String(waitSeconds)), {
    mutates: false,
    quiet: true,
    timeoutSeconds: waitSeconds + ctx.customer.timeouts.commandSeconds,
  });
  if (r.code !== 0 || r.simulated) return r.simulated ? { state: 'not-started' } : { state: 'unknown' };
  const first = r.stdout.split('\n')[0] ?? '';
  if (first.startsWith('DONE')) return { state: 'done', code: Number(first.split(' ')[1]), log: r.stdout.split('\n').slice(1).join('\n') };
  if (first.startsWith('RUNNING')) return { state: 'running' };
  return { state: 'not-started' };
}

/**
 * Migrate every site: start detached unless already started for this change
 * (the start script checks that on the host), then wait for the result with a
 * host-side wait loop. `journal` (journalText output) is written by the first
 * start, just before migrate begins.
 */
export async function migrate(ctx: HostContext, rec: StepRecorder, sites: string[], journal?: string): Promise<StepOutcome & { started: boolean }> {
  const c = ctx.customer;
  const p = hostPaths(c, ctx.changeId);
  const rd = p.runDir();
  let started = false;
  let pendingJournal = journal;
  const done: string[] = [];
  for (const site of sites) {
    const argv = [...composeArgv(c), 'exec', '-T', 'backend', 'bench', '--site', site, 'migrate'];
    const r = await rec.run(sh(START_MIGRATE, rd, site, String(c.timeouts.migrateSeconds), pendingJournal !== undefined ? p.journal : '', ...argv), {
      mutates: true,
      ...(pendingJournal !== undefined ? { stdin: pendingJournal } : {}),
    });
    if (r.simulated) {
      done.push(site);
      continue;
    }
    // From here on the database may be changed: rollback must restore it.
    started = true;
    if (r.code === null) return { status: 'unknown', message: `connection lost while starting migrate of ${site}`, started };
    if (r.code !== 0) return { status: 'failed', message: `could not start migrate for ${site} (exit ${r.code})`, started };
    pendingJournal = undefined;
    if (r.stdout.startsWith('ALREADY-STARTED')) {
      rec.outputs.push(`migrate of ${site} was already started for run ${ctx.changeId}: not starting it again, waiting for its result`);
    }
    const deadline = Date.now() + (c.timeouts.migrateSeconds + 120) * 1000;
    let st: MigrateState;
    for (;;) {
      const left = Math.ceil((deadline - Date.now()) / 1000);
      st = await migrateStatus(ctx, rec, site, Math.max(0, Math.min(MIGRATE_WAIT_SECONDS, left)));
      if (rec.reconnected) {
        // The link dropped while migrate ran: report it, let the caller re-observe, then resume waiting.
        return { status: 'unknown', message: `SSH connection dropped while migrate of ${site} was running (it keeps running on the host)`, started };
      }
      if (st.state === 'done') break;
      if (st.state === 'unknown') return { status: 'unknown', message: `connection lost while migrate of ${site} was running (it keeps running on the host)`, started };
      if (Date.now() > deadline) return { status: 'failed', message: `migrate of ${site} did not finish within ${c.timeouts.migrateSeconds}s`, started };
      if (st.state === 'not-started') await sleep(500, ctx.signal); // the start marker vanished: do not spin
    }
    if (st.code !== 0) {
      rec.outputs.push(st.log);
      return { status: 'failed', message: `migrate of ${site} failed (exit ${st.code})`, exitCode: st.code, started };
    }
    done.push(site);
  }
  if (ctx.mode === 'plan') return { status: 'planned', message: `would run bench migrate for ${siteLabel(ctx, sites)} (detached, up to ${c.timeouts.migrateSeconds}s)`, started };
  return { status: 'ok', message: `migrated ${done.join(', ')}`, exitCode: 0, started };
}

/** Wait (never start) until no migrate of this change is running: before undoing an interrupted change. */
export async function waitMigrateIdle(ctx: HostContext, rec: StepRecorder, sites: string[]): Promise<StepOutcome> {
  if (ctx.mode === 'plan') return { status: 'planned', message: `would wait for any migrate of run ${ctx.changeId} still running` };
  const deadline = Date.now() + (ctx.customer.timeouts.migrateSeconds + 120) * 1000;
  const seen: string[] = [];
  for (const site of sites) {
    for (;;) {
      const st = await migrateStatus(ctx, rec, site, MIGRATE_WAIT_SECONDS);
      if (st.state === 'unknown') return { status: 'unknown', message: `cannot read the migrate state of ${site}` };
      if (st.state !== 'running') {
        seen.push(`${site}: ${st.state === 'done' ? `finished with exit ${st.code}` : 'never started'}`);
        break;
      }
      if (Date.now() > deadline) return { status: 'failed', message: `migrate of ${site} from run ${ctx.changeId} is still running after ${ctx.customer.timeouts.migrateSeconds}s` };
    }
  }
  return { status: 'ok', message: `no migrate of run ${ctx.changeId} running (${seen.join('; ')})` };
}
