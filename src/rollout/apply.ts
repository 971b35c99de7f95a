// Apply: bring the fleet's hosts to their desired tags, ring by ring.
//
// - Rings run in ring order; a ring starts only when the one before it
//   completed (every host healthy at its desired tag, and baked when it
//   changed something and baking is on).
// - Within a ring at most ring.concurrency hosts run at a time.
// - The failure budget is one counter over the whole rollout. Once it exceeds
//   the running ring's budget no new host starts; hosts in flight finish (the
//   host procedure rolls them back), the rest are reported as skipped.
// - Every host start and finish goes to the StateStore journal first, so a
//   rerun after a crash skips finished hosts and re-observes the host whose
//   outcome was unknown before touching it.
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import type { Customer, Fleet, Ring } from '../fleet/types.js';
import type { HostDriver, HostResult, StepResult } from '../host/types.js';
import { bakeRing, type BakeClock } from './bake.js';
import type { EventSink, RingStatus } from './events.js';
import type { StateStore } from './state.js';
import { isFailure, SUCCESS_OUTCOMES, type RingResult, type RolloutResult, type SkippedHost } from './types.js';
import { describeWindow, insideWindow } from './window.js';

export interface ApplyOptions {
  fleet: Fleet;
  driver: HostDriver;
  state: StateStore;
  runId: string;
  /** The fleet commit being applied: each commit is applied once per host. */
  commit?: string;
  /** Only this ring. */
  ring?: string;
  /** Only these customers (default: every customer in the selected rings). */
  only?: string[];
  signal?: AbortSignal;
  sink?: EventSink;
  /** Bake each ring that upgraded hosts before the next ring starts (default true). */
  bake?: boolean;
  bakeIntervalSeconds?: number;
  clock?: BakeClock;
  /** Change hosts even outside their maintenance window. */
  ignoreMaintenanceWindows?: boolean;
}

/**
 * Key of a rollout's journal: the commit, or (uncommitted local checkout) a
 * digest of the whole fleet's desired tags, so a rerun of the same desired
 * state finds the journal whatever ring or host subset it is limited to.
 */
export function rolloutKey(fleet: Fleet, commit: string | undefined): string {
  if (commit) return commit;
  const h = createHash('sha256');
  for (const id of Object.keys(fleet.customers).sort()) h.update(`${id}=${fleet.customers[id]!.image.tag}\n`);
  return 'local-' + h.digest('hex').slice(0, 16);
}

export async function applyRollout(opts: ApplyOptions): Promise<RolloutResult> {
  const { fleet, driver, state } = opts;
  const now = () => (opts.clock ? opts.clock.now() : new Date());
  const at = () => now().toISOString();
  const emit: EventSink = opts.sink ?? (() => {});
  const started = now();

  if (opts.ring && !fleet.rings[opts.ring]) {
    throw new Error(`ring "${opts.ring}" does not exist (rings: ${fleet.ringOrder.join(', ')})`);
  }
  const only = opts.only ? new Set(opts.only) : undefined;
  if (only) {
    const unknown = [...only].filter((id) => !fleet.customers[id]);
    if (unknown.length) throw new Error(`unknown customer(s): ${unknown.join(', ')}`);
  }
  const ringNames = fleet.ringOrder.filter((r) => !opts.ring || r === opts.ring);
  const byRing = new Map<string, Customer[]>();
  for (const name of ringNames) {
    const members = Object.values(fleet.customers)
      .filter((c) => c.ring === name && (!only || only.has(c.id)))
      .sort((a, b) => a.id.localeCompare(b.id));
    if (members.length) byRing.set(name, members);
  }
  const rings = ringNames.filter((r) => byRing.has(r));
  const allIds = rings.flatMap((r) => byRing.get(r)!.map((c) => c.id));
  const key = rolloutKey(fleet, opts.commit);
  const journal = await state.journal(key);

  emit({ type: 'rollout-started', runId: opts.runId, commit: opts.commit, rings, hosts: allIds.length, at: at() });

  let failures = 0;
  let stopReason: string | undefined;
  const badTags = new Set<string>();
  const ringResults: RingResult[] = [];
  const onAbort = () => {
    stopReason ??= 'stopped by the operator: no new host starts';
  };
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    for (const name of rings) {
      const ring = fleet.rings[name]!;
      const customers = byRing.get(name)!;
      const rr: RingResult = { ring: name, status: 'skipped', hosts: [], skipped: [] };
      ringResults.push(rr);

      const skip = (c: Customer, reason: string, converged = false) => {
        const s: SkippedHost = { customerId: c.id, ring: name, reason, converged, toTag: c.image.tag };
        rr.skipped.push(s);
        emit({ type: 'host-skipped', ring: name, customerId: c.id, reason, at: at() });
      };

      if (stopReason) {
        emit({ type: 'ring-started', ring: name, hosts: customers.map((c) => c.id), at: at() });
        for (const c of customers) skip(c, `not started: ${stopReason}`);
        rr.reason = stopReason;
        emit({ type: 'ring-finished', ring: name, status: 'skipped', reason: stopReason, at: at() });
        continue;
      }

      rr.startedAt = at();
      emit({ type: 'ring-started', ring: name, hosts: customers.map((c) => c.id), at: rr.startedAt });
      const limit = pLimit(Math.max(1, ring.concurrency));
      let budgetReported = false;

      const runHost = async (c: Customer): Promise<void> => {
        if (stopReason) return skip(c, `not started: ${stopReason}`);
        if (c.hold) return skip(c, `held: ${c.hold.reason}`);
        const tag = c.image.tag;

        const done = journal[c.id];
        if (done?.state === 'finished' && done.toTag === tag && SUCCESS_OUTCOMES.has(done.outcome)) {
          return skip(c, `already ${done.outcome} at ${tag} by run ${done.runId}`, true);
        }
        if (opts.commit) {
          const applied = await state.getApplied(opts.commit, c.id);
          if (applied && applied.toTag === tag && SUCCESS_OUTCOMES.has(applied.outcome)) {
            return skip(c, `commit ${opts.commit.slice(0, 12)} already ${applied.outcome} this host`, true);
          }
        }
        if (c.maintenanceWindow && !opts.ignoreMaintenanceWindows && !insideWindow(c.maintenanceWindow, now())) {
          return skip(c, `outside its maintenance window (${describeWindow(c.maintenanceWindow)})`);
        }

        const preSteps: StepResult[] = [];
        // A host the last run left mid-change is finished under that run's id:
        // the host lock and the host's own journal belong to it, so the host
        // procedure resumes (no second backup or migrate) instead of refusing.
        const hostRunId = done?.state === 'started' ? done.runId : opts.runId;
        if (done?.state === 'started') {
          // The last run died while changing this host: look before touching it.
          const t0 = Date.now();
          const obs = await driver.observe(c);
          const step: StepResult = {
            step: 'observe',
            status: obs.reachable ? 'ok' : 'failed',
            startedAt: new Date(t0).toISOString(),
            durationMs: Date.now() - t0,
            message: obs.reachable
              ? `re-observed after interrupted run ${done.runId} (resuming as that run): .env tag ${obs.envTag ?? '?'}, running ${obs.runningTag ?? '?'}` +
                (obs.journal ? `, host journal phase ${obs.journal.phase}` : '') +
                (obs.lock ? `, lock held by run ${obs.lock.runId}${obs.lock.stale ? ' (stale)' : ''}` : '')
              : `re-observe after interrupted run ${done.runId} failed: ${obs.error ?? 'unreachable'}`,
          };
          preSteps.push(step);
          emit({ type: 'step-finished', ring: name, customerId: c.id, step, at: at() });
        }

        emit({ type: 'host-started', ring: name, customerId: c.id, toTag: tag, at: at() });
        await state.journalHost(key, c.id, { state: 'started', toTag: tag, runId: hostRunId, at: at() });

        let result: HostResult;
        try {
          result = await driver.converge(c, {
            runId: hostRunId,
            commit: opts.commit,
            mode: 'apply',
            signal: opts.signal,
            onStep: (step) => emit({ type: 'step-finished', ring: name, customerId: c.id, step, at: at() }),
          });
        } catch (e) {
          result = {
            customerId: c.id,
            target: `${c.ssh.user}@${c.ssh.host}:${c.ssh.port}`,
            toTag: tag,
            outcome: 'unknown',
            message: `host procedure crashed: ${e instanceof Error ? e.message : String(e)}; host state unknown, it is re-observed on the next run`,
            steps: [],
            startedAt: at(),
            durationMs: 0,
          };
        }
        if (preSteps.length) result = { ...result, steps: [...preSteps, ...result.steps] };
        rr.hosts.push(result);

        // An unknown outcome stays "started" in the journal: the next run re-observes first.
        if (result.outcome !== 'unknown') {
          await state.journalHost(key, c.id, {
            state: 'finished',
            toTag: tag,
            runId: opts.runId,
            outcome: result.outcome,
            message: result.message,
            at: at(),
          });
          if (opts.commit) {
            await state.recordApplied({ commit: opts.commit, customerId: c.id, toTag: tag, outcome: result.outcome, at: at() });
          }
        }
        emit({ type: 'host-finished', ring: name, result, at: at() });

        if (isFailure(result.outcome)) {
          failures++;
          if ((result.outcome === 'rolled-back' || result.outcome === 'rollback-failed') && !badTags.has(tag)) {
            badTags.add(tag);
            const reason = `${c.id}: ${result.message}`;
            await state.markBadTag(tag, reason);
            emit({ type: 'tag-marked-bad', tag, reason, at: at() });
          }
          if (failures > ring.failureBudget && !budgetReported) {
            budgetReported = true;
            stopReason ??= `failure budget of ring ${name} exceeded: ${failures} failed host(s), budget ${ring.failureBudget}`;
            emit({ type: 'budget-exceeded', ring: name, failures, budget: ring.failureBudget, at: at() });
          }
        }
      };

      await Promise.all(customers.map((c) => limit(() => runHost(c))));
      rr.finishedAt = at();

      const failed = rr.hosts.filter((h) => isFailure(h.outcome));
      const waiting = rr.skipped.filter((s) => !s.converged && !s.reason.startsWith('held:'));
      let status: RingStatus;
      if (stopReason && (failed.length > 0 || waiting.length > 0)) {
        status = 'stopped';
        rr.reason = stopReason;
      } else if (failed.length > 0) {
        status = 'failed';
        rr.reason = `${failed.length} host(s) failed: ${failed.map((h) => `${h.customerId} (${h.outcome})`).join(', ')}`;
      } else if (waiting.length > 0) {
        status = 'stopped';
        rr.reason = `${waiting.length} host(s) not changed: ${waiting.map((s) => `${s.customerId} (${s.reason})`).join(', ')}`;
      } else {
        status = 'succeeded';
      }
      if (status === 'succeeded') {
        await recordCompletion(ring, customers, rr);
        const baked = await bakeIfChanged(ring, customers, rr);
        if (!baked.ok) {
          status = 'failed';
          rr.reason = baked.reason;
        }
      }
      rr.status = status;
      emit({ type: 'ring-finished', ring: name, status, reason: rr.reason, at: at() });
      if (status !== 'succeeded') stopReason ??= `ring ${name} did not complete: ${rr.reason}`;
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }

  const anyFailed = ringResults.some((r) => r.status === 'failed' || r.hosts.some((h) => isFailure(h.outcome)));
  const allDone = ringResults.every((r) => r.status === 'succeeded');
  const status: RolloutResult['status'] = anyFailed ? 'failed' : allDone ? 'succeeded' : 'stopped';
  const reason = status === 'succeeded' ? undefined : stopReason;
  // A local (uncommitted) rollout that completed is closed: running the same
  // desired state again later observes every host afresh. Commits keep their
  // applied records instead (once per commit and host).
  if (status === 'succeeded' && !opts.commit) await state.clearJournal(key, allIds);
  const finished = now();
  emit({ type: 'rollout-finished', status, reason, at: finished.toISOString() });
  return {
    runId: opts.runId,
    commit: opts.commit,
    status,
    reason,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    failures,
    rings: ringResults,
    badTags: [...badTags],
  };

  async function recordCompletion(ring: Ring, customers: Customer[], rr: RingResult) {
    for (const tag of new Set(customers.filter((c) => !c.hold).map((c) => c.image.tag))) {
      // Keep the first completion time: a no-op rerun must not restart the bake clock.
      const upgradedNow = rr.hosts.some((h) => h.outcome === 'upgraded' && h.toTag === tag);
      const prev = await state.getRingCompletion(ring.name, tag);
      if (!prev || upgradedNow) await state.recordRingCompletion({ ring: ring.name, tag, completedAt: at() });
    }
  }

  async function bakeIfChanged(ring: Ring, customers: Customer[], rr: RingResult): Promise<{ ok: boolean; reason?: string }> {
    if (opts.bake === false) return { ok: true };
    const tags = new Set(rr.hosts.filter((h) => h.outcome === 'upgraded').map((h) => h.toTag));
    for (const tag of tags) {
      const outcome = await bakeRing({
        ring,
        tag,
        customers: customers.filter((c) => c.image.tag === tag && !c.hold),
        driver,
        state,
        sink: emit,
        signal: opts.signal,
        clock: opts.clock,
        intervalSeconds: opts.bakeIntervalSeconds,
      });
      if (outcome.healthy) continue;
      if (outcome.reason && !opts.signal?.aborted) badTags.add(tag);
      return { ok: false, reason: `ring ${ring.name} did not pass its bake: ${outcome.reason ?? 'unhealthy'}` };
    }
    return { ok: true };
  }
}

