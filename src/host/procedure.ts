// converge(): the whole host procedure, for apply and dry run alike (the
// executor decides whether mutating commands run or are recorded).
//
//   observe → [unchanged?] → lock → preflight (incl. pull) → backup → verify
//   → maintenance on → set tag → up -d → configurator → migrate (detached)
//   → maintenance off → health gate → prune → unlock
//
// Any failure after the change started rolls back. A connection lost
// mid-step is "unknown": the host is re-observed (reconnecting) before
// anything else is decided; migrate is never started twice for one change.
import type { Customer } from '../fleet/types.js';
import type { BackupRecord, HostExecutor, HostJournal, HostOutcome, HostProcedureOptions, HostResult, StepResult } from './types.js';
import { hostPaths, RUN_ID_PATTERN, runStep, StepRecorder, type HostContext, type StepOutcome } from './context.js';
import { observe, publicObservation, type ObservationDetail } from './observe.js';
import { acquireLock, describeLock, releaseLock } from './lock.js';
import { preflight } from './preflight.js';
import { siteLabel, siteList, takeBackup, verifyBackup } from './backup.js';
import { envDiff, setEnv, type EnvChange } from './env-file.js';
import { maintenance, migrate, recreate, waitConfigurator, waitMigrateIdle } from './upgrade.js';
import { healthGate } from './health.js';
import { prune } from './prune.js';
import { rollback } from './rollback.js';
import { IN_FLIGHT, journalText, writeJournal } from './journal.js';
import { shellSafetyProblems, UnsafeCustomerError } from './validate.js';

const PHASES: HostJournal['phase'][] = ['started', 'backed-up', 'tag-set', 'migrating', 'migrated', 'healthy'];
const atLeast = (p: HostJournal['phase'] | undefined, q: HostJournal['phase']) => p !== undefined && PHASES.indexOf(p) >= PHASES.indexOf(q);

/** How many times a run re-observes and resumes after lost connections before giving up as unknown. */
const MAX_RESUMES = 3;

export async function converge(customer: Customer, exec: HostExecutor, opts: HostProcedureOptions): Promise<HostResult> {
  const startedAt = new Date();
  const steps: StepResult[] = [];
  const toTag = customer.image.tag;
  const base = { customerId: customer.id, target: exec.target, toTag, steps, startedAt: startedAt.toISOString() };
  const done = (outcome: HostOutcome, message: string, extra: Partial<HostResult> = {}): HostResult => ({
    ...base,
    outcome,
    message,
    ...extra,
    durationMs: Date.now() - startedAt.getTime(),
  });
  if (!RUN_ID_PATTERN.test(opts.runId)) return done('refused', `invalid run id ${JSON.stringify(opts.runId)}: nothing run`);
  const unsafe = shellSafetyProblems(customer);
  if (unsafe.length) return done('refused', new UnsafeCustomerError(customer.id, unsafe).message);

  const ctx: HostContext = {
    customer,
    exec,
    mode: opts.mode,
    runId: opts.runId,
    changeId: opts.runId,
    ...(opts.commit ? { commit: opts.commit } : {}),
    steps,
    ...(opts.onStep ? { onStep: opts.onStep } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const plan = opts.mode === 'plan';

  // ---- observe --------------------------------------------------------------
  let o: ObservationDetail = { reachable: false, services: [] };
  await runStep(ctx, 'observe', async (rec): Promise<StepOutcome> => {
    o = await observe(ctx, rec);
    if (o.simulated) return { status: 'planned', message: 'offline: host not observed; plan lists the commands apply would run' };
    if (!o.reachable) return { status: 'unknown', message: `host could not be observed: ${o.error ?? 'connection lost'}` };
    return { status: 'ok', message: summarize(o) };
  });
  const before = publicObservation(o);
  if (!o.reachable && !o.simulated) return done('unknown', `could not observe the host: ${o.error ?? 'connection lost'}; nothing changed`, { before });
  const fromTag = o.runningTag ?? o.envTag;
  const sites = siteList(ctx, o.sites);
  const withObs = (extra: Partial<HostResult> = {}): Partial<HostResult> => ({ before, ...(fromTag ? { fromTag } : {}), ...extra });

  if (customer.hold) return done('refused', `customer is on hold (${customer.hold.reason}): not changed`, withObs());

  // ---- a change left half-done by an earlier run? ---------------------------
  const journal = o.journal && IN_FLIGHT.has(o.journal.phase) ? o.journal : undefined;
  if (o.lock && o.lock.runId !== ctx.runId) {
    return done('refused', `${describeLock(o.lock)}. Nothing changed.`, withObs());
  }
  if (journal) ctx.changeId = journal.runId;

  // ---- already there? -------------------------------------------------------
  const imageOk = !o.layout || o.layout.kind !== 'env' || !o.layout.imageVariable || o.envImage === customer.image.repository;
  if (!journal && !o.simulated && o.envTag === toTag && o.runningTag === toTag && imageOk) {
    const h = await runStep(ctx, 'health', (rec) => healthGate(ctx, rec, sites));
    if (h.healthy) return done('unchanged', `already at ${toTag} and healthy: nothing to do`, withObs());
    if (h.status === 'unknown') return done('unknown', `already at ${toTag}; ${h.message}`, withObs());
    return done('refused', `already at ${toTag} but not healthy (${h.message}): not touching it, investigate the host`, withObs());
  }

  // ---- lock -----------------------------------------------------------------
  const lock = await runStep(ctx, 'lock', async (rec): Promise<StepOutcome> => {
    const r = await acquireLock(ctx, rec);
    if (!r.acquired) return { status: 'failed', message: r.message };
    return { status: plan ? 'planned' : 'ok', message: plan ? 'would take the host lock' : `host lock taken (${hostPaths(customer).lockMeta})` };
  });
  if (lock.status === 'failed' || lock.status === 'unknown') return done('refused', `${lock.message}. Nothing changed.`, withObs());

  let result: HostResult;
  try {
    result = await change(ctx, o, journal, sites, withObs, done);
  } catch (e) {
    result = done('unknown', `internal error: ${(e as Error).message}; host state not verified`, withObs());
  }
  if (!(result.outcome === 'unknown' && steps.some((s) => s.status === 'unknown'))) {
    await runStep(ctx, 'unlock', async (rec) => ({ status: plan ? 'planned' : 'ok', message: await releaseLock(ctx, rec) }));
  }
  // The state the host is in now, for the report (read-only, not a step).
  if (!plan && result.outcome !== 'unknown' && result.outcome !== 'unchanged') {
    const after = await observe(ctx, new StepRecorder(ctx, 'observe')).catch(() => undefined);
    if (after?.reachable) result.after = publicObservation(after);
  }
  return { ...result, durationMs: Date.now() - startedAt.getTime() };
}

type Done = (outcome: HostOutcome, message: string, extra?: Partial<HostResult>) => HostResult;

async function change(
  ctx: HostContext,
  o: ObservationDetail,
  interrupted: HostJournal | undefined,
  sites: string[],
  withObs: (extra?: Partial<HostResult>) => Partial<HostResult>,
  done: Done,
): Promise<HostResult> {
  const c = ctx.customer;
  const plan = ctx.mode === 'plan';
  const toTag = c.image.tag;
  let journal = interrupted;

  // An interrupted change that never touched .env, towards another tag: only
  // maintenance mode may be left on. Turn it off and start this change afresh.
  if (journal && journal.toTag !== toTag && !atLeast(journal.phase, 'tag-set')) {
    const off = await runStep(ctx, 'maintenance-off', (rec) => maintenance(ctx, rec, sites, false));
    if (off.status === 'failed' || off.status === 'unknown') return done('refused', `interrupted run ${journal.runId}: ${off.message}`, withObs());
    journal = undefined;
    ctx.changeId = ctx.runId;
  }
  // A different target than the interrupted change: undo that change first
  // (after any migrate it started has finished: never restore under a running migrate).
  if (journal && journal.toTag !== toTag) {
    const idle = await runStep(ctx, 'migrate', (rec) => waitMigrateIdle(ctx, rec, sites));
    if (idle.status === 'failed' || idle.status === 'unknown') {
      return done('unknown', `interrupted run ${journal.runId} (${journal.fromTag} → ${journal.toTag}) cannot be undone yet: ${idle.message}`, withObs());
    }
    const rb = await rollback(ctx, {
      fromTag: journal.fromTag,
      migrateStarted: atLeast(journal.phase, 'migrating'),
      backups: journal.backups,
      sites,
      reason: `run ${journal.runId} (${journal.fromTag} → ${journal.toTag}) was interrupted in phase ${journal.phase}`,
    });
    if (ctx.mode === 'plan') {
      return done('planned', `would roll back interrupted run ${journal.runId} (${journal.fromTag} → ${journal.toTag}, phase ${journal.phase}) to ${journal.fromTag}; a later run upgrades to ${toTag}`, withObs());
    }
    await finalJournal(ctx, journal, rb.healthy ? 'rolled-back' : 'failed');
    return done(
      rb.healthy ? 'rolled-back' : 'rollback-failed',
      `interrupted run ${journal.runId} rolled back to ${journal.fromTag} (${rb.actions.join('; ')})${rb.problems.length ? `; problems: ${rb.problems.join('; ')}` : ''}; rerun to upgrade to ${toTag}`,
      withObs(),
    );
  }

  // ---- preflight ------------------------------------------------------------
  let change: EnvChange | undefined;
  let fileDiff: string | undefined;
  let previousImage: string | undefined;
  const pre = await runStep(ctx, 'preflight', async (rec) => {
    const r = await preflight(ctx, rec, o, sites);
    change = r.change;
    if (r.ok && change && !o.simulated) fileDiff = r.fileDiff ?? (await envDiff(ctx, rec, change));
    return r;
  });
  if (o.configuredImage && o.envTag !== toTag) previousImage = o.configuredImage;
  const extra = (x: Partial<HostResult> = {}) => withObs({ ...(fileDiff ? { fileDiff } : {}), ...x });
  if (pre.status === 'unknown') return done('unknown', `${pre.message}; nothing changed yet`, extra());
  const preflightFailed = !pre.ok || !change;
  if (preflightFailed && (!journal || !atLeast(journal.phase, 'backed-up'))) {
    return done('refused', `preflight refused: ${pre.message}. Nothing changed.`, extra());
  }

  // ---- backup + verify (skipped when finishing a change that already has one) ----
  let backups: BackupRecord[] = journal && atLeast(journal.phase, 'backed-up') ? journal.backups : [];
  const j: Omit<HostJournal, 'updatedAt'> = journal
    ? { runId: journal.runId, fromTag: journal.fromTag, toTag, phase: journal.phase, backups }
    : { runId: ctx.changeId, fromTag: o.envTag ?? 'unknown', toTag, phase: 'started', backups: [] };
  if (!journal || !atLeast(journal.phase, 'backed-up')) {
    let files: Array<{ site: string; path: string; db: boolean }> = [];
    const b = await runStep(ctx, 'backup', async (rec) => {
      const r = await takeBackup(ctx, rec, sites, journalText({ ...j, phase: 'started' }));
      files = r.files;
      return r;
    });
    if (b.status === 'failed' || b.status === 'unknown') {
      await finalJournal(ctx, j, 'refused');
      return done(b.status === 'unknown' ? 'unknown' : 'refused', `no verified backup (${b.message}): nothing changed`, extra());
    }
    const v = await runStep(ctx, 'verify-backup', async (rec) => {
      // The journal says "backed-up" in the same command that stores the verified backup.
      return verifyBackup(ctx, rec, files, (verified) => ({ ...j, phase: 'backed-up', backups: verified }));
    });
    if (v.status !== 'ok' && v.status !== 'planned') {
      await finalJournal(ctx, j, 'refused');
      return done('refused', `no verified backup (${v.message}): nothing changed`, extra());
    }
    backups = v.backups;
    j.backups = backups;
  }

  // ---- the change -----------------------------------------------------------
  let migrateStarted = journal ? atLeast(journal.phase, 'migrating') : false;
  const fail = async (why: string): Promise<HostResult> => {
    if (plan) return done('refused', why, extra({ backup: backups }));
    const rb = await rollback(ctx, { fromTag: j.fromTag, migrateStarted, backups, sites, reason: why });
    await finalJournal(ctx, j, rb.healthy ? 'rolled-back' : 'failed');
    const what = rb.actions.join('; ');
    return rb.healthy
      ? done('rolled-back', `${why}; rolled back (${what}); healthy on ${j.fromTag}`, extra({ backup: backups }))
      : done(
          'rollback-failed',
          `${why}; rollback attempted (${what || 'nothing succeeded'}) but the host is NOT healthy: ${rb.problems.join('; ')}. Needs a person now.`,
          extra({ backup: backups }),
        );
  };
  // After a lost connection: re-observe (reconnecting), then resume or give up as unknown.
  const lost = async (stepMessage: string): Promise<'resume' | HostResult> => {
    const re = await runStep(ctx, 'observe', async (rec): Promise<StepOutcome> => {
      const again = await observe(ctx, rec);
      if (!again.reachable) return { status: 'unknown', message: `re-observation failed: ${again.error ?? 'unreachable'}` };
      return { status: 'ok', message: `re-observed after a lost connection: ${summarize(again)}` };
    });
    if (re.status !== 'ok') {
      return done(
        'unknown',
        `${stepMessage}; the host could not be re-observed, its state is unknown (journal ${hostPaths(c).journal} says phase ${j.phase}; the host lock stays until its lease ends). Rerun to finish or roll back.`,
        extra({ backup: backups }),
      );
    }
    return 'resume';
  };

  // Finishing an interrupted change whose preflight now fails: undo it instead.
  if (preflightFailed) return fail(`cannot finish interrupted run ${j.runId}: ${pre.message}`);

  // A step that ended "unknown" (connection lost mid-command): re-observe
  // first; roll back only if the host answers, else report unknown.
  const failOrLost = async (step: { status: string; message: string }): Promise<HostResult> => {
    if (step.status !== 'unknown') return fail(step.message);
    const next = await lost(step.message);
    return next === 'resume' ? fail(`${step.message} (outcome unknown; host re-observed)`) : next;
  };

  const on = await runStep(ctx, 'maintenance-on', (rec) => maintenance(ctx, rec, sites, true));
  if (on.status === 'failed' || on.status === 'unknown') return failOrLost(on);

  if (!journal || !atLeast(journal.phase, 'migrating')) {
    const st = await runStep(ctx, 'set-tag', async (rec): Promise<StepOutcome> => {
      await setEnv(ctx, rec, change!, journalText({ ...j, phase: 'tag-set' }));
      j.phase = 'tag-set';
      return {
        status: plan ? 'planned' : 'ok',
        message: `${plan ? 'would set' : 'set'} ${change!.variable}=${toTag} in .env${change!.imageVariable ? ` and ${change!.imageVariable}=${change!.image}` : ''} (previous kept as ${hostPaths(c, ctx.changeId).envBackup()})`,
      };
    });
    if (st.status === 'failed' || st.status === 'unknown') return failOrLost(st);
  }

  const up = await runStep(ctx, 'recreate', (rec) => recreate(ctx, rec, toTag));
  if (up.status === 'failed' || up.status === 'unknown') return failOrLost(up);
  const conf = await runStep(ctx, 'configurator', (rec) => waitConfigurator(ctx, rec, toTag));
  if (conf.status === 'failed' || conf.status === 'unknown') return failOrLost(conf);

  for (let attempt = 0; ; attempt++) {
    const m = await runStep(ctx, 'migrate', async (rec) => {
      let journalNow: string | undefined;
      if (!plan && j.phase !== 'migrating') {
        journalNow = journalText({ ...j, phase: 'migrating' });
      }
      const r = await migrate(ctx, rec, sites, journalNow);
      // Written by the start command, before migrate began (on an unknown outcome: assume it was).
      if (journalNow && r.started) j.phase = 'migrating';
      if (r.started) migrateStarted = true;
      return r;
    });
    if (m.status === 'ok' || m.status === 'planned') break;
    if (m.status === 'failed') return fail(m.message);
    // unknown: the connection went away while migrate was running on the host.
    if (attempt >= MAX_RESUMES) return done('unknown', `${m.message}; gave up after ${attempt + 1} lost connections`, extra({ backup: backups }));
    const next = await lost(m.message);
    if (next !== 'resume') return next;
  }
  if (!plan) {
    await writeJournal(ctx, new StepRecorder(ctx, 'migrate'), { ...j, phase: 'migrated' });
    j.phase = 'migrated';
  }

  const off = await runStep(ctx, 'maintenance-off', (rec) => maintenance(ctx, rec, sites, false));
  if (off.status === 'failed' || off.status === 'unknown') return failOrLost(off);

  if (plan) {
    await runStep(ctx, 'health', async () => ({
      status: 'planned',
      message: `would probe ${c.health.url}/api/method/ping for ${siteLabel(ctx, sites)} until ${c.health.attempts} consecutive pongs`,
    }));
    await runStep(ctx, 'prune', (rec) => prune(ctx, rec, previousImage));
    const target = o.simulated ? `${toTag} (host not observed: offline plan)` : `${o.runningTag ?? o.envTag ?? '?'} → ${toTag}`;
    return done('planned', `would upgrade ${target}: backup, set tag, recreate, migrate, health gate, prune`, extra());
  }

  const h = await runStep(ctx, 'health', (rec) => healthGate(ctx, rec, sites));
  if (!h.healthy) return failOrLost(h);
  await finalJournal(ctx, j, 'healthy');
  await runStep(ctx, 'prune', (rec) => prune(ctx, rec, previousImage));
  return done('upgraded', `upgraded ${j.fromTag} → ${toTag}, healthy; verified backup kept in ${hostPaths(c, ctx.changeId).backupRun()}`, extra({ backup: backups }));
}

async function finalJournal(ctx: HostContext, j: Omit<HostJournal, 'updatedAt'>, phase: HostJournal['phase']): Promise<void> {
  if (ctx.mode === 'plan') return;
  j.phase = phase;
  // Best effort: the outcome is already decided; a journal that still says
  // "in flight" only makes the next run re-check the host.
  await writeJournal(ctx, new StepRecorder(ctx, 'unlock'), j).catch(() => undefined);
}

function summarize(o: ObservationDetail): string {
  const parts = [
    `env tag ${o.envTag ?? '?'}`,
    `running ${o.runningTag ?? '?'}`,
    `${o.services.filter((s) => s.state === 'running').length}/${o.services.length} services running`,
    o.freeDiskMb !== undefined ? `${o.freeDiskMb} MiB free` : 'disk ?',
    `layout ${o.layout?.kind ?? '?'}${o.layout?.kind === 'env' ? ` (${o.layout.variable})` : ''}`,
  ];
  if (o.lock) parts.push(`locked by ${o.lock.runId}${o.lock.stale ? ' (stale)' : ''}`);
  if (o.journal) parts.push(`journal ${o.journal.runId}: ${o.journal.phase}`);
  return parts.join(', ');
}
