import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FleetSource } from '../../../src/fleet/types.js';
import type { RolloutEvent } from '../../../src/rollout/events.js';
import { bakeRing } from '../../../src/rollout/bake.js';
import { planPromotion, type SetTag } from '../../../src/rollout/promote.js';
import { FileStateStore, MemoryStateStore } from '../../../src/rollout/state.js';
import { insideWindow } from '../../../src/rollout/window.js';
import { customer, FakeDriver, fleet, ring } from './fakes.js';

// A minimal stand-in for the fleet package's YAML edit: these tests are about
// which files promotion edits, not how a YAML line is rewritten.
const setTag: SetTag = (text, tag) => text.replace(/^(\s*tag:\s*)\S+/m, `$1${tag}`);

function memSource(files: Record<string, string>): FleetSource {
  return {
    label: 'mem',
    list: async () => Object.keys(files),
    read: async (p) => {
      const t = files[p];
      if (t === undefined) throw new Error(`no ${p}`);
      return new TextEncoder().encode(t);
    },
  };
}

const yamlFor = (tag: string) => `# customer\nimage:\n  tag: ${tag}  # keep this comment\nring: early\n`;

function promoFleet() {
  const f = fleet(
    [ring('canary', 1, { bakeSeconds: 600 }), ring('early', 2), ring('broad', 3)],
    [
      customer('c1', 'canary', 'v2'),
      customer('e1', 'early', 'v1'),
      customer('e2', 'early', 'v2'),
      customer('e3', 'early', 'v1', { hold: { reason: 'migration freeze' } }),
      customer('e4', 'early', 'sha256:' + 'a'.repeat(64)),
      customer('e5', 'early', 'v1'),
      customer('b1', 'broad', 'v1'),
    ],
  );
  const files: Record<string, string> = {};
  for (const c of Object.values(f.customers)) files[c.file] = yamlFor(c.image.tag);
  return { f, source: memSource(files) };
}

describe('planPromotion', () => {
  it('edits the next ring\'s customer files, skipping held, pinned and converged ones', async () => {
    const { f, source } = promoFleet();
    const state = new MemoryStateStore();
    await state.recordRingCompletion({ ring: 'canary', tag: 'v2', completedAt: 'x', bakedAt: 'y' });
    const d = await planPromotion({ fleet: f, source, ring: 'canary', tag: 'v2', state, setTag });
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    const p = d.promotion;
    expect(p).toMatchObject({ fromRing: 'canary', targetRing: 'early', tag: 'v2', title: 'Promote v2 to early', branch: 'fleetkeeper/promote-early' });
    expect(p.edits.map((e) => e.path)).toEqual(['customers/e1.yml', 'customers/e5.yml']);
    expect(p.edits[0]!.before).toBe(yamlFor('v1'));
    expect(p.edits[0]!.after).toBe(yamlFor('v2'));
    expect(p.skipped).toEqual([
      { customerId: 'e2', reason: 'already at v2' },
      { customerId: 'e3', reason: 'held: migration freeze' },
      { customerId: 'e4', reason: expect.stringMatching(/^pinned to sha256:/) },
    ]);
    expect(p.body).toContain('customers/e1.yml');
  });

  it('uses the fleet package\'s YAML edit by default, keeping comments', async () => {
    const { f, source } = promoFleet();
    const state = new MemoryStateStore();
    await state.recordRingCompletion({ ring: 'canary', tag: 'v2', completedAt: 'x', bakedAt: 'y' });
    const d = await planPromotion({ fleet: f, source, ring: 'canary', tag: 'v2', state });
    expect(d.ok && d.promotion.edits[0]!.after).toBe(yamlFor('v2'));
  });

  it('a bad tag is never promoted', async () => {
    const { f, source } = promoFleet();
    const state = new MemoryStateStore();
    await state.recordRingCompletion({ ring: 'canary', tag: 'v2', completedAt: 'x', bakedAt: 'y' });
    await state.markBadTag('v2', 'rolled back on c1');
    const d = await planPromotion({ fleet: f, source, ring: 'canary', tag: 'v2', state, setTag });
    expect(d).toEqual({ ok: false, reason: expect.stringMatching(/v2 is marked bad \(rolled back on c1\)/) });
  });

  it('refuses before the bake passed, for the last ring, and when nothing is left to change', async () => {
    const { f, source } = promoFleet();
    const state = new MemoryStateStore();
    let d = await planPromotion({ fleet: f, source, ring: 'canary', tag: 'v2', state, setTag });
    expect(d).toMatchObject({ ok: false, reason: /has not completed/ });
    await state.recordRingCompletion({ ring: 'canary', tag: 'v2', completedAt: '2026-01-01T00:00:00.000Z' });
    d = await planPromotion({ fleet: f, source, ring: 'canary', tag: 'v2', state, setTag });
    expect(d).toMatchObject({ ok: false, reason: /still baking v2 \(until 2026-01-01T00:10:00.000Z\)/ });
    d = await planPromotion({ fleet: f, source, ring: 'broad', tag: 'v2', state, setTag, requireBaked: false });
    expect(d).toMatchObject({ ok: false, reason: /last ring/ });
    d = await planPromotion({ fleet: f, source, ring: 'early', tag: 'v1', state, setTag, requireBaked: false });
    expect(d).toMatchObject({ ok: false, reason: /nothing to promote/ });
  });
});

describe('bakeRing', () => {
  function fakeClock(start = Date.parse('2026-01-01T00:00:00Z')) {
    let t = start;
    const sleeps: number[] = [];
    return {
      sleeps,
      advance: (ms: number) => (t += ms),
      clock: { now: () => new Date(t), sleep: async (ms: number) => { sleeps.push(ms); t += ms; } },
    };
  }

  it('re-checks health over the bake time and records the bake', async () => {
    const r = ring('canary', 1, { bakeSeconds: 100 });
    const cs = [customer('a', 'canary', 'v2'), customer('b', 'canary', 'v2')];
    const driver = new FakeDriver().host('a', 'v2').host('b', 'v2');
    const state = new MemoryStateStore();
    const { clock, sleeps } = fakeClock();
    const events: RolloutEvent[] = [];
    const out = await bakeRing({ ring: r, customers: cs, tag: 'v2', driver, state, clock, intervalSeconds: 30, sink: (e) => events.push(e) });
    expect(out).toEqual({ healthy: true, rounds: 5 });
    expect(sleeps).toEqual([30000, 30000, 30000, 10000]);
    expect(driver.healthChecks).toHaveLength(10);
    expect((await state.getRingCompletion('canary', 'v2'))?.bakedAt).toBeTruthy();
    expect(events.map((e) => e.type)).toEqual(['bake-started', 'bake-finished']);
  });

  it('resumes after a restart with the time left, using the recorded completion', async () => {
    const r = ring('canary', 1, { bakeSeconds: 100 });
    const state = new MemoryStateStore();
    await state.recordRingCompletion({ ring: 'canary', tag: 'v2', completedAt: '2026-01-01T00:00:00.000Z' });
    const { clock, sleeps } = fakeClock(Date.parse('2026-01-01T00:01:30Z'));
    const driver = new FakeDriver().host('a', 'v2');
    await bakeRing({ ring: r, customers: [customer('a', 'canary', 'v2')], tag: 'v2', driver, state, clock, intervalSeconds: 30 });
    expect(sleeps).toEqual([10000]);
  });

  it('a host unhealthy during bake marks the tag bad', async () => {
    const r = ring('canary', 1, { bakeSeconds: 60 });
    const driver = new FakeDriver().host('a', 'v2').host('b', 'v2', { healthy: false });
    const state = new MemoryStateStore();
    const { clock } = fakeClock();
    const out = await bakeRing({ ring: r, customers: [customer('a', 'canary', 'v2'), customer('b', 'canary', 'v2')], tag: 'v2', driver, state, clock });
    expect(out.healthy).toBe(false);
    expect(out.reason).toMatch(/b \(no pong\)/);
    expect(await state.isBadTag('v2')).toMatchObject({ tag: 'v2' });
    expect((await state.getRingCompletion('canary', 'v2'))?.bakedAt).toBeUndefined();
  });
});

describe('FileStateStore', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('persists applied commits, bad tags, ring completions and journals across instances', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fk-state-'));
    const a = await FileStateStore.open(dir);
    await Promise.all([
      a.recordApplied({ commit: 'c1', customerId: 'x', toTag: 'v2', outcome: 'upgraded', at: 't' }),
      a.markBadTag('v3', 'rolled back on y'),
      a.recordRingCompletion({ ring: 'canary', tag: 'v2', completedAt: 't' }),
      a.journalHost('c1', 'x', { state: 'started', toTag: 'v2', runId: 'r', at: 't' }),
      a.journalHost('c1', 'y', { state: 'finished', toTag: 'v2', runId: 'r', outcome: 'upgraded', message: 'ok', at: 't' }),
    ]);
    const b = await FileStateStore.open(dir);
    expect(await b.getApplied('c1', 'x')).toMatchObject({ outcome: 'upgraded' });
    expect(await b.isBadTag('v3')).toMatchObject({ reason: 'rolled back on y' });
    expect(await b.getRingCompletion('canary', 'v2')).toMatchObject({ completedAt: 't' });
    expect(Object.keys(await b.journal('c1')).sort()).toEqual(['x', 'y']);
    // No temp files left behind.
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).badTags.v3.tag).toBe('v3');
  });

  it('a corrupt state file is a clear error, not a silent reset', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fk-state-'));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'state.json'), '{not json');
    await expect(FileStateStore.open(dir)).rejects.toThrow(/state\.json is not valid JSON/);
  });
});

describe('maintenance windows', () => {
  const w = { days: ['sat' as const], start: '22:00', end: '04:00', timezone: 'Europe/Berlin' };
  it('crosses midnight in the customer time zone', () => {
    // 2026-01-03 is a Saturday. Berlin = UTC+1 in January.
    expect(insideWindow(w, new Date('2026-01-03T21:30:00Z'))).toBe(true); // Sat 22:30
    expect(insideWindow(w, new Date('2026-01-04T02:00:00Z'))).toBe(true); // Sun 03:00, Saturday's window
    expect(insideWindow(w, new Date('2026-01-04T03:30:00Z'))).toBe(false); // Sun 04:30
    expect(insideWindow(w, new Date('2026-01-02T21:30:00Z'))).toBe(false); // Fri 22:30
  });
});
