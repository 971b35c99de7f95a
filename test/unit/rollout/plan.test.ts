import { describe, expect, it } from 'vitest';
import type { CustomerChange, Fleet, FleetDiff } from '../../../src/fleet/types.js';
import { connectAsBase, planRollout } from '../../../src/rollout/plan.js';
import { MemoryStateStore } from '../../../src/rollout/state.js';
import { customer, FakeDriver, fleet, ring } from './fakes.js';

const rings = () => [ring('canary', 1), ring('early', 2), ring('broad', 3)];

function change(base: Fleet, head: Fleet, id: string, fields: string[]): CustomerChange {
  const before = base.customers[id];
  const after = head.customers[id];
  return {
    id,
    kind: !before ? 'added' : !after ? 'removed' : 'changed',
    before,
    after,
    tag: { from: before?.image.tag, to: after?.image.tag },
    fields,
  };
}

describe('planRollout', () => {
  it('lists changed hosts per ring in ring order with steps, findings and file diff', async () => {
    const base = fleet(rings(), [
      customer('zeta', 'canary', 'v1'),
      customer('alpha', 'broad', 'v1'),
      customer('beta', 'early', 'v1'),
      customer('same', 'early', 'v1'),
    ]);
    const head = fleet(rings(), [
      customer('zeta', 'canary', 'v2'),
      customer('alpha', 'broad', 'v2'),
      customer('beta', 'early', 'v2'),
      customer('same', 'early', 'v1'),
    ]);
    const diff: FleetDiff = {
      changes: ['zeta', 'alpha', 'beta'].map((id) => change(base, head, id, ['image.tag'])),
      ringsChanged: [],
    };
    const driver = new FakeDriver().host('zeta', 'v1').host('alpha', 'v1').host('beta', 'v1').host('same', 'v1');
    const plan = await planRollout({ base, head, diff, driver, mode: 'offline', runId: 'p1', headLabel: 'HEAD' });

    expect(plan.rings.map((r) => [r.name, r.hosts.map((h) => h.customerId)])).toEqual([
      ['canary', ['zeta']],
      ['early', ['beta']],
      ['broad', ['alpha']],
    ]);
    const zeta = plan.rings[0]!.hosts[0]!;
    expect(zeta).toMatchObject({
      action: 'change',
      reasons: ['tag'],
      tag: { from: 'v1', to: 'v2' },
      fields: ['image.tag'],
      fileDiff: expect.stringContaining('+CUSTOM_TAG=v2'),
    });
    expect(zeta.steps.map((s) => s.step)).toEqual(['preflight', 'set-tag']);
    expect(zeta.findings).toContainEqual({ level: 'info', source: 'preflight', message: 'disk ok' });
    // Only plan-mode converges happened: nothing applied.
    expect(driver.converged.every((c) => c.mode === 'plan')).toBe(true);
    expect(driver.started).toEqual([]);
    expect(plan.summary).toMatchObject({ change: 3, skip: 0, errors: 0 });
    // Offline: unchanged customers are not even observed.
    expect(driver.observed).not.toContain('same');
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });

  it('held and removed customers are listed as skipped with a reason', async () => {
    const base = fleet(rings(), [customer('gone', 'canary', 'v1'), customer('held', 'canary', 'v1')]);
    const head = fleet(rings(), [
      customer('held', 'canary', 'v2', { hold: { reason: 'audit', until: '2026-02-01' } }),
    ]);
    const diff = { changes: [change(base, head, 'gone', []), change(base, head, 'held', ['image.tag', 'hold'])], ringsChanged: [] };
    const driver = new FakeDriver().host('held', 'v1').host('gone', 'v1');
    const plan = await planRollout({ base, head, diff, driver, mode: 'offline', runId: 'p' });
    expect(plan.rings).toEqual([]);
    expect(plan.skipped.map((s) => [s.customerId, s.skipReason])).toEqual([
      ['gone', expect.stringMatching(/removed from the fleet/)],
      ['held', 'held: audit (until 2026-02-01)'],
    ]);
    expect(driver.converged).toEqual([]);
  });

  it('live: flags drift on changed hosts and on hosts whose file did not change', async () => {
    const base = fleet(rings(), [customer('a', 'canary', 'v1'), customer('b', 'early', 'v1'), customer('c', 'early', 'v1')]);
    const head = fleet(rings(), [customer('a', 'canary', 'v2'), customer('b', 'early', 'v1'), customer('c', 'early', 'v1')]);
    const diff = { changes: [change(base, head, 'a', ['image.tag'])], ringsChanged: [] };
    // a runs v0 (not what its base file says); b was changed by hand to v9; c is fine.
    const driver = new FakeDriver().host('a', 'v0').host('b', 'v9').host('c', 'v1');
    const plan = await planRollout({ base, head, diff, driver, mode: 'live', runId: 'p' });
    const a = plan.rings[0]!.hosts[0]!;
    expect(a).toMatchObject({ customerId: 'a', drift: true, observedTag: 'v0', tag: { from: 'v1', to: 'v2' } });
    expect(a.findings).toContainEqual(expect.objectContaining({ level: 'warning', message: expect.stringMatching(/runs v0/) }));
    const early = plan.rings.find((r) => r.name === 'early')!;
    expect(early.hosts.map((h) => [h.customerId, h.reasons, h.action, h.tag])).toEqual([
      ['b', ['drift'], 'change', { from: 'v9', to: 'v1' }],
    ]);
    expect(plan.summary.drift).toBe(2);
  });

  it('a preflight refusal is a blocked host with an error finding', async () => {
    const head = fleet(rings(), [customer('a', 'canary', 'v2')]);
    const driver = new FakeDriver().host('a', 'v1', { behaviour: 'refuse' });
    const plan = await planRollout({ head, driver, mode: 'live', runId: 'p' });
    const a = plan.rings[0]!.hosts[0]!;
    expect(a.action).toBe('blocked');
    expect(a.findings).toContainEqual({ level: 'error', source: 'preflight', message: 'disk too small' });
    expect(plan.summary.errors).toBe(1);
  });

  // Bug found by a first-time user: the plan said "change" for a host that the
  // apply then skipped for its maintenance window, without a word.
  it('says when a host is outside its maintenance window now, as apply would skip it', async () => {
    const window = { days: ['sat' as const], start: '22:00', end: '04:00', timezone: 'Asia/Tokyo' };
    const head = fleet(rings(), [customer('a', 'canary', 'v2', { maintenanceWindow: window }), customer('b', 'canary', 'v2')]);
    const driver = new FakeDriver().host('a', 'v1').host('b', 'v1');
    const thursday = () => new Date('2026-12-03T18:20:00Z'); // Fri 03:20 in Tokyo: outside
    const plan = await planRollout({ head, driver, mode: 'live', runId: 'p', now: thursday });
    const [a, b] = plan.rings[0]!.hosts;
    expect(a!.findings.find((f) => f.source === 'plan')?.message).toMatch(
      /^outside its maintenance window now \(sat 22:00-04:00 Asia\/Tokyo\): an apply started now would leave this host/,
    );
    expect(b!.findings.some((f) => /maintenance window/.test(f.message))).toBe(false);
    const saturdayNight = () => new Date('2026-12-05T14:00:00Z'); // Sat 23:00 in Tokyo: inside
    const inside = await planRollout({ head, driver, mode: 'live', runId: 'p', now: saturdayNight });
    expect(inside.rings[0]!.hosts[0]!.findings.some((f) => /maintenance window/.test(f.message))).toBe(false);
  });

  it('without a base every customer is compared with its host; converged hosts are unchanged', async () => {
    const head = fleet(rings(), [customer('a', 'canary', 'v2'), customer('b', 'broad', 'v2')]);
    const driver = new FakeDriver().host('a', 'v1').host('b', 'v2');
    const plan = await planRollout({ head, driver, mode: 'live', runId: 'p' });
    expect(plan.rings.flatMap((r) => r.hosts.map((h) => [h.customerId, h.action]))).toEqual([
      ['a', 'change'],
      ['b', 'unchanged'],
    ]);
  });

  it('ring filter limits the plan to one ring', async () => {
    const head = fleet(rings(), [customer('a', 'canary', 'v2'), customer('b', 'broad', 'v2')]);
    const driver = new FakeDriver().host('a', 'v1').host('b', 'v1');
    const plan = await planRollout({ head, driver, mode: 'offline', runId: 'p', ring: 'broad' });
    expect(plan.rings.map((r) => r.name)).toEqual(['broad']);
    expect(driver.converged.map((c) => c.id)).toEqual(['b']);
    await expect(planRollout({ head, driver, mode: 'offline', runId: 'p', ring: 'x' })).rejects.toThrow(/ring "x" does not exist/);
  });

  it('connectAsBase: a PR live plan reaches hosts only at base addresses, never new ones', async () => {
    const base = fleet(rings(), [customer('a', 'canary', 'v1', { ssh: { host: '127.0.0.5', port: 22, user: 'deploy', hostKey: 'SHA256:' + 'B'.repeat(43) } })]);
    const head = fleet(rings(), [
      customer('a', 'canary', 'v2', { ssh: { host: '203.0.113.9', port: 22, user: 'root', hostKey: 'SHA256:' + 'C'.repeat(43) } }),
      customer('new', 'canary', 'v2', { ssh: { host: '198.51.100.7', port: 22, user: 'root', hostKey: 'SHA256:' + 'D'.repeat(43) } }),
    ]);
    const diff = { changes: [change(base, head, 'a', ['image.tag', 'ssh.host', 'ssh.user']), change(base, head, 'new', [])], ringsChanged: [] };
    const driver = new FakeDriver().host('a', 'v1').host('new', 'v1');
    const plan = await planRollout({ base, head, diff, driver, mode: 'live', runId: 'p', connectAs: connectAsBase });
    expect(driver.converged.map((c) => [c.id, c.host])).toEqual([['a', '127.0.0.5']]);
    const hosts = plan.rings[0]!.hosts;
    expect(hosts.find((h) => h.customerId === 'a')).toMatchObject({ reasons: ['tag', 'connection'], target: 'deploy@127.0.0.5:22' });
    expect(hosts.find((h) => h.customerId === 'new')).toMatchObject({
      action: 'change',
      reasons: ['added'],
      findings: [expect.objectContaining({ message: expect.stringMatching(/does not contact/) })],
    });
  });

  it('warns when the desired tag is marked bad', async () => {
    const head = fleet(rings(), [customer('a', 'canary', 'v2')]);
    const state = new MemoryStateStore();
    await state.markBadTag('v2', 'rolled back on x');
    const plan = await planRollout({ head, driver: new FakeDriver().host('a', 'v1'), mode: 'offline', runId: 'p', state });
    expect(plan.rings[0]!.hosts[0]!.findings[0]).toMatchObject({ level: 'warning', message: /marked bad/ });
  });
});
