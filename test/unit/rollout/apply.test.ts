import { describe, expect, it } from 'vitest';
import { applyRollout } from '../../../src/rollout/apply.js';
import type { RolloutEvent } from '../../../src/rollout/events.js';
import { MemoryStateStore } from '../../../src/rollout/state.js';
import { customer, FakeDriver, fleet, ring } from './fakes.js';

const OLD = 'v15.38.0';
const NEW = 'v15.40.1';

function threeRings(counts: [number, number, number], over: Parameters<typeof ring>[2] = {}) {
  const rings = [ring('canary', 1, over), ring('early', 2, over), ring('broad', 3, over)];
  const customers = [];
  const driver = new FakeDriver();
  for (const [i, r] of rings.entries()) {
    for (let n = 0; n < counts[i]!; n++) {
      const id = `${r.name}-${String(n).padStart(2, '0')}`;
      customers.push(customer(id, r.name, NEW));
      driver.host(id, OLD);
    }
  }
  return { f: fleet(rings, customers), driver };
}

function collect() {
  const events: RolloutEvent[] = [];
  return { events, sink: (e: RolloutEvent) => events.push(e) };
}

describe('applyRollout', () => {
  it('runs rings in order and upgrades every host', async () => {
    const { f, driver } = threeRings([1, 2, 3]);
    const { events, sink } = collect();
    const res = await applyRollout({ fleet: f, driver, state: new MemoryStateStore(), runId: 'r1', sink });
    expect(res.status).toBe('succeeded');
    expect(res.rings.map((r) => [r.ring, r.status])).toEqual([
      ['canary', 'succeeded'],
      ['early', 'succeeded'],
      ['broad', 'succeeded'],
    ]);
    // Every host of a ring starts only after the previous ring finished.
    const ringOf = (id: string) => id.split('-')[0];
    const order = driver.started.map(ringOf);
    expect(order).toEqual(['canary', 'early', 'early', 'broad', 'broad', 'broad']);
    expect([...driver.hosts.values()].every((h) => h.tag === NEW)).toBe(true);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('rollout-started');
    expect(types.at(-1)).toBe('rollout-finished');
    expect(types.filter((t) => t === 'host-finished')).toHaveLength(6);
    expect(types.filter((t) => t === 'step-finished').length).toBeGreaterThan(0);
  });

  it('never runs more than ring.concurrency hosts at once', async () => {
    const { f, driver } = threeRings([0, 12, 0], { concurrency: 3 });
    for (const h of driver.hosts.values()) h.delayMs = 20;
    await applyRollout({ fleet: f, driver, state: new MemoryStateStore(), runId: 'r1' });
    expect(driver.maxInFlight).toBe(3);
    expect(driver.started).toHaveLength(12);
  });

  it('budget exhausted mid-ring: in-flight hosts finish, the rest are skipped, later rings do not start', async () => {
    const { f, driver } = threeRings([0, 10, 3], { concurrency: 3, failureBudget: 1 });
    f.rings.early!.failureBudget = 1;
    // early-00 fails (within budget) and early-03 takes its slot; early-01 fails
    // next and exceeds the budget while early-02 and early-03 are in flight.
    driver.hosts.get('early-00')!.behaviour = 'rollback';
    driver.hosts.get('early-01')!.behaviour = 'rollback';
    driver.hosts.get('early-01')!.delayMs = 15;
    driver.hosts.get('early-02')!.delayMs = 60;
    driver.hosts.get('early-03')!.delayMs = 60;
    const { events, sink } = collect();
    const res = await applyRollout({ fleet: f, driver, state: new MemoryStateStore(), runId: 'r1', sink });

    expect(res.status).toBe('failed');
    expect(res.failures).toBe(2);
    expect(res.reason).toMatch(/failure budget of ring early exceeded: 2 failed host\(s\), budget 1/);
    const early = res.rings.find((r) => r.ring === 'early')!;
    expect(early.status).toBe('stopped');
    // early-02 and early-03 were in flight when the budget ran out: they finished.
    expect(early.hosts.find((h) => h.customerId === 'early-02')?.outcome).toBe('upgraded');
    expect(early.hosts.find((h) => h.customerId === 'early-03')?.outcome).toBe('upgraded');
    expect(driver.hosts.get('early-02')!.tag).toBe(NEW);
    // Nobody started after the budget was exceeded.
    expect(driver.started.sort()).toEqual(['early-00', 'early-01', 'early-02', 'early-03']);
    expect(early.skipped.map((s) => s.customerId)).toEqual(
      ['early-04', 'early-05', 'early-06', 'early-07', 'early-08', 'early-09'],
    );
    for (let n = 4; n < 10; n++) expect(driver.hosts.get(`early-0${n}`)!.tag).toBe(OLD);
    const broad = res.rings.find((r) => r.ring === 'broad')!;
    expect(broad.status).toBe('skipped');
    expect(broad.skipped).toHaveLength(3);
    expect(broad.hosts).toHaveLength(0);
    expect(events.filter((e) => e.type === 'budget-exceeded')).toEqual([
      expect.objectContaining({ ring: 'early', failures: 2, budget: 1 }),
    ]);
    expect(res.badTags).toEqual([NEW]);
  });

  it('a failure within budget: the rest finish, the ring is not done, later rings do not start', async () => {
    const { f, driver } = threeRings([4, 2, 0], { concurrency: 2, failureBudget: 1 });
    driver.hosts.get('canary-01')!.behaviour = 'rollback';
    const state = new MemoryStateStore();
    const res = await applyRollout({ fleet: f, driver, state, runId: 'r1' });
    const canary = res.rings[0]!;
    expect(canary.hosts.map((h) => [h.customerId, h.outcome])).toEqual(
      expect.arrayContaining([
        ['canary-00', 'upgraded'],
        ['canary-01', 'rolled-back'],
        ['canary-02', 'upgraded'],
        ['canary-03', 'upgraded'],
      ]),
    );
    expect(canary.status).toBe('failed');
    expect(res.rings[1]!.status).toBe('skipped');
    expect(res.status).toBe('failed');
    expect(await state.isBadTag(NEW)).toBeTruthy();
  });

  it('counts the budget over the whole rollout, not per batch', async () => {
    // Concurrency 1 = batches of one; budget 1. Two failures in different batches must stop the ring.
    const { f, driver } = threeRings([5, 0, 0], { concurrency: 1, failureBudget: 1 });
    driver.hosts.get('canary-00')!.behaviour = 'refuse';
    driver.hosts.get('canary-02')!.behaviour = 'refuse';
    const res = await applyRollout({ fleet: f, driver, state: new MemoryStateStore(), runId: 'r1' });
    expect(driver.started).toEqual(['canary-00', 'canary-01', 'canary-02']);
    expect(res.rings[0]!.skipped.map((s) => s.customerId)).toEqual(['canary-03', 'canary-04']);
    // Refused is not a rollback: the tag itself is not to blame.
    expect(res.badTags).toEqual([]);
  });

  it('hosts already converged are unchanged and the ring succeeds', async () => {
    const { f, driver } = threeRings([2, 2, 2]);
    for (const h of driver.hosts.values()) h.tag = NEW;
    const res = await applyRollout({ fleet: f, driver, state: new MemoryStateStore(), runId: 'r1' });
    expect(res.status).toBe('succeeded');
    expect(res.rings.flatMap((r) => r.hosts.map((h) => h.outcome))).toEqual(Array(6).fill('unchanged'));
    expect(driver.started).toEqual([]);
  });

  it('customers in several rings change in one rollout, ring by ring', async () => {
    const rings = [ring('canary', 1), ring('early', 2), ring('broad', 3)];
    const customers = [customer('a', 'canary', 'v2'), customer('b', 'early', 'v3'), customer('c', 'broad', 'v1')];
    const driver = new FakeDriver().host('a', 'v1').host('b', 'v1').host('c', 'v1');
    const res = await applyRollout({ fleet: fleet(rings, customers), driver, state: new MemoryStateStore(), runId: 'r' });
    expect(res.rings.map((r) => r.hosts.map((h) => [h.customerId, h.outcome]))).toEqual([
      [['a', 'upgraded']],
      [['b', 'upgraded']],
      [['c', 'unchanged']],
    ]);
    expect(driver.hosts.get('b')!.tag).toBe('v3');
  });

  it('a held customer is skipped and never touched; the ring still completes', async () => {
    const rings = [ring('canary', 1)];
    const customers = [
      customer('a', 'canary', NEW),
      customer('held', 'canary', NEW, { hold: { reason: 'year-end closing' } }),
    ];
    const driver = new FakeDriver().host('a', OLD).host('held', OLD);
    const { events, sink } = collect();
    const res = await applyRollout({ fleet: fleet(rings, customers), driver, state: new MemoryStateStore(), runId: 'r', sink });
    expect(res.status).toBe('succeeded');
    expect(driver.converged.map((c) => c.id)).toEqual(['a']);
    expect(driver.hosts.get('held')!.tag).toBe(OLD);
    expect(events).toContainEqual(expect.objectContaining({ type: 'host-skipped', customerId: 'held', reason: 'held: year-end closing' }));
  });

  it('--ring limits the rollout to one ring', async () => {
    const { f, driver } = threeRings([1, 1, 1]);
    const res = await applyRollout({ fleet: f, driver, state: new MemoryStateStore(), runId: 'r', ring: 'early' });
    expect(res.rings.map((r) => r.ring)).toEqual(['early']);
    expect(driver.started).toEqual(['early-00']);
  });

  it('an unknown ring is an error before anything runs', async () => {
    const { f, driver } = threeRings([1, 1, 1]);
    await expect(applyRollout({ fleet: f, driver, state: new MemoryStateStore(), runId: 'r', ring: 'nope' })).rejects.toThrow(
      /ring "nope" does not exist/,
    );
    expect(driver.converged).toEqual([]);
  });

  it('abort signal: hosts in flight finish, no new host starts', async () => {
    const { f, driver } = threeRings([6, 2, 0], { concurrency: 2 });
    for (const h of driver.hosts.values()) h.delayMs = 30;
    const ac = new AbortController();
    const { sink } = collect();
    const run = applyRollout({
      fleet: f,
      driver,
      state: new MemoryStateStore(),
      runId: 'r',
      signal: ac.signal,
      sink: (e) => {
        sink(e);
        if (e.type === 'host-started' && e.customerId === 'canary-01') ac.abort();
      },
    });
    const res = await run;
    expect(driver.started).toEqual(['canary-00', 'canary-01']);
    expect(res.rings[0]!.hosts.map((h) => h.outcome)).toEqual(['upgraded', 'upgraded']);
    expect(res.rings[0]!.status).toBe('stopped');
    expect(res.rings[1]!.status).toBe('skipped');
    expect(res.status).toBe('stopped');
    expect(res.reason).toMatch(/stopped by the operator/);
  });

  it('a driver that throws is an unknown outcome and counts as a failure', async () => {
    const { f, driver } = threeRings([2, 0, 0], { failureBudget: 5 });
    driver.hosts.get('canary-00')!.behaviour = 'throw';
    const res = await applyRollout({ fleet: f, driver, state: new MemoryStateStore(), runId: 'r' });
    expect(res.rings[0]!.hosts.find((h) => h.customerId === 'canary-00')).toMatchObject({
      outcome: 'unknown',
      message: expect.stringMatching(/host procedure crashed: boom/),
    });
    expect(res.failures).toBe(1);
  });
});

describe('crash safety', () => {
  it('a host the journal says is done is not redone; an unknown one is re-observed first', async () => {
    const { f, driver } = threeRings([3, 0, 0]);
    const state = new MemoryStateStore();
    // First run: canary-00 upgrades, canary-01 loses its connection (unknown).
    driver.hosts.get('canary-01')!.behaviour = 'unknown';
    const first = await applyRollout({ fleet: f, driver, state, runId: 'r1', commit: 'c0ffee' });
    expect(first.rings[0]!.hosts.map((h) => h.outcome).sort()).toEqual(['unknown', 'upgraded', 'upgraded']);

    // Rerun of the same commit: the finished hosts are skipped without contacting them.
    driver.hosts.get('canary-01')!.behaviour = 'ok';
    driver.converged = [];
    driver.observed = [];
    const { events, sink } = collect();
    const second = await applyRollout({ fleet: f, driver, state, runId: 'r2', commit: 'c0ffee', sink });
    expect(driver.converged.map((c) => c.id)).toEqual(['canary-01']);
    // Resumed under the interrupted run's id: the host lock and journal are that run's.
    expect(driver.converged[0]!.runId).toBe('r1');
    // Re-observed before converge (the converge's own observe comes after).
    expect(driver.observed[0]).toBe('canary-01');
    const h = second.rings[0]!.hosts[0]!;
    expect(h.steps[0]).toMatchObject({ step: 'observe', message: expect.stringMatching(/re-observed after interrupted run r1/) });
    expect(second.rings[0]!.skipped.map((s) => [s.customerId, s.converged])).toEqual([
      ['canary-00', true],
      ['canary-02', true],
    ]);
    expect(second.status).toBe('succeeded');
    expect(events.filter((e) => e.type === 'host-skipped')).toHaveLength(2);
  });

  it('a host left "started" by a killed run (no finish recorded) is re-observed', async () => {
    const { f, driver } = threeRings([1, 0, 0]);
    const state = new MemoryStateStore();
    await state.journalHost('deadbeef', 'canary-00', { state: 'started', toTag: NEW, runId: 'killed', at: 'x' });
    await applyRollout({ fleet: f, driver, state, runId: 'r2', commit: 'deadbeef' });
    expect(driver.observed.slice(0, 2)).toEqual(['canary-00', 'canary-00']);
  });

  it('each commit is applied once per host (applied records survive a lost journal)', async () => {
    const { f, driver } = threeRings([2, 0, 0]);
    const state = new MemoryStateStore();
    await state.recordApplied({ commit: 'abc', customerId: 'canary-00', toTag: NEW, outcome: 'upgraded', at: 'x' });
    const res = await applyRollout({ fleet: f, driver, state, runId: 'r', commit: 'abc' });
    expect(driver.converged.map((c) => c.id)).toEqual(['canary-01']);
    expect(res.rings[0]!.skipped[0]).toMatchObject({ customerId: 'canary-00', converged: true });
  });

  it('a local (no commit) rollout that completed closes its journal: a later drift is converged again', async () => {
    const { f, driver } = threeRings([2, 0, 0]);
    const state = new MemoryStateStore();
    expect((await applyRollout({ fleet: f, driver, state, runId: 'r1' })).status).toBe('succeeded');
    driver.hosts.get('canary-00')!.tag = OLD; // someone changed it by hand
    driver.started = [];
    await applyRollout({ fleet: f, driver, state, runId: 'r2' });
    expect(driver.started).toEqual(['canary-00']);
  });

  it('a local rollout that did not complete keeps its journal for the rerun', async () => {
    const { f, driver } = threeRings([2, 0, 0], { failureBudget: 1 });
    driver.hosts.get('canary-01')!.behaviour = 'rollback';
    const state = new MemoryStateStore();
    await applyRollout({ fleet: f, driver, state, runId: 'r1' });
    driver.hosts.get('canary-01')!.behaviour = 'ok';
    driver.started = [];
    const res = await applyRollout({ fleet: f, driver, state, runId: 'r2' });
    expect(driver.started).toEqual(['canary-01']);
    expect(res.status).toBe('succeeded');
  });

  it('a journal entry for another tag does not count as done', async () => {
    const { f, driver } = threeRings([1, 0, 0]);
    const state = new MemoryStateStore();
    await state.journalHost('k', 'canary-00', { state: 'finished', toTag: 'v0', runId: 'old', outcome: 'upgraded', message: '', at: 'x' });
    await applyRollout({ fleet: f, driver, state, runId: 'r', commit: 'k' });
    expect(driver.started).toEqual(['canary-00']);
  });
});

describe('bake inside apply', () => {
  it('a ring that goes unhealthy during bake marks the tag bad and stops the next ring', async () => {
    const { f, driver } = threeRings([2, 2, 0], { bakeSeconds: 60 });
    let t = Date.parse('2026-01-01T00:00:00Z');
    let sleeps = 0;
    const clock = {
      now: () => new Date(t),
      sleep: async (ms: number) => {
        t += ms;
        // After the first health round, a canary host falls over.
        if (++sleeps === 1) driver.hosts.get('canary-01')!.healthy = false;
      },
    };
    const state = new MemoryStateStore();
    const { events, sink } = collect();
    const res = await applyRollout({ fleet: f, driver, state, runId: 'r', clock, bakeIntervalSeconds: 20, sink });
    expect(res.rings[0]!.status).toBe('failed');
    expect(res.rings[0]!.reason).toMatch(/did not pass its bake.*canary-01/);
    expect(res.rings[1]!.status).toBe('skipped');
    expect(await state.isBadTag(NEW)).toMatchObject({ reason: expect.stringMatching(/canary-01/) });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['bake-started', 'tag-marked-bad', 'bake-finished']));
  });

  it('bake is skipped for rings where nothing changed', async () => {
    const { f, driver } = threeRings([1, 1, 0], { bakeSeconds: 3600 });
    for (const h of driver.hosts.values()) h.tag = NEW;
    const res = await applyRollout({ fleet: f, driver, state: new MemoryStateStore(), runId: 'r' });
    expect(res.status).toBe('succeeded');
    expect(driver.healthChecks).toEqual([]);
  });
});
