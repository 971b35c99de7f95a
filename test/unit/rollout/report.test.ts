import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { renderPlanMarkdown, renderPlanText } from '../../../src/report/plan.js';
import { createProgressView } from '../../../src/report/progress.js';
import { renderProgressMarkdown, RolloutTracker } from '../../../src/report/live.js';
import { renderResultsMarkdown, renderResultsText } from '../../../src/report/results.js';
import { applyRollout } from '../../../src/rollout/apply.js';
import type { RolloutEvent } from '../../../src/rollout/events.js';
import { planRollout } from '../../../src/rollout/plan.js';
import { MemoryStateStore } from '../../../src/rollout/state.js';
import { customer, FakeDriver, fleet, ring } from './fakes.js';

function sample(n = 3) {
  const f = fleet(
    [ring('canary', 1, { failureBudget: 0, concurrency: 1 }), ring('early', 2)],
    Array.from({ length: n }, (_, i) => customer(`cust-${String(i).padStart(3, '0')}`, i === 0 ? 'canary' : 'early', 'v2')),
  );
  const driver = new FakeDriver();
  for (const id of Object.keys(f.customers)) driver.host(id, 'v1');
  return { f, driver };
}

describe('reports', () => {
  it('plan text and markdown show each host, its ring and its tag move', async () => {
    const { f, driver } = sample();
    driver.hosts.get('cust-002')!.behaviour = 'refuse';
    const plan = await planRollout({ head: f, driver, mode: 'live', runId: 'p', headLabel: 'working tree' });
    const text = renderPlanText(plan, { details: true });
    expect(text).toMatch(/Ring canary: 1 host\(s\), concurrency 1, failure budget 0/);
    expect(text).toMatch(/cust-000\s+change\s+v1 → v2/);
    expect(text).toMatch(/cust-002\s+blocked.*ERROR preflight: disk too small/);
    expect(text).toContain('+CUSTOM_TAG=v2');
    const md = renderPlanMarkdown(plan);
    expect(md).toContain('| `cust-000` | v1 → v2 | change |');
    expect(md).toContain('```diff');
  });

  it('markdown stays under the check-run limit on a big fleet and says what it left out', async () => {
    const { f, driver } = sample(150);
    const plan = await planRollout({ head: f, driver, mode: 'live', runId: 'p' });
    const md = renderPlanMarkdown(plan, { maxChars: 20_000 });
    expect(md.length).toBeLessThanOrEqual(20_000);
    expect(md).toMatch(/more host\(s\) not shown \(size limit\)/);
  });

  it('results: text summary and markdown list failures first', async () => {
    const { f, driver } = sample(4);
    driver.hosts.get('cust-001')!.behaviour = 'rollback';
    f.rings.early!.failureBudget = 0;
    f.rings.early!.concurrency = 1;
    const res = await applyRollout({ fleet: f, driver, state: new MemoryStateStore(), runId: 'r' });
    const text = renderResultsText(res);
    expect(text).toMatch(/^Rollout failed: failure budget of ring early exceeded/);
    expect(text).toMatch(/early\s+cust-001\s+rolled-back/);
    expect(text).toMatch(/early\s+cust-002\s+skipped/);
    const md = renderResultsMarkdown(res);
    expect(md.indexOf('<code>cust-001</code>')).toBeLessThan(md.indexOf('<code>cust-000</code>'));
  });

  it('progress: plain lines off a TTY, a live block on a TTY', async () => {
    const { f, driver } = sample(2);
    const plain = new PassThrough();
    let plainText = '';
    plain.on('data', (d) => (plainText += d));
    const tty = new PassThrough();
    let ttyText = '';
    tty.on('data', (d) => (ttyText += d));
    const p1 = createProgressView(plain, { tty: false });
    const p2 = createProgressView(tty, { tty: true });
    const events: RolloutEvent[] = [];
    await applyRollout({
      fleet: f,
      driver,
      state: new MemoryStateStore(),
      runId: 'r',
      sink: (e) => {
        events.push(e);
        p1.sink(e);
        p2.sink(e);
      },
    });
    p2.close();
    expect(plainText).not.toContain('\x1b[');
    expect(plainText).toMatch(/\[canary\] cust-000: UPGRADED/);
    expect(plainText.trim().split('\n')).toHaveLength(events.length);
    expect(ttyText).toContain('\x1b[');
    expect(ttyText).toMatch(/2\/2 hosts done/);
  });

  it('live tracker folds events into a snapshot a check run can show mid-rollout', async () => {
    const { f, driver } = sample(4);
    f.rings.early!.concurrency = 1;
    driver.hosts.get('cust-001')!.behaviour = 'rollback';
    const tracker = new RolloutTracker();
    let midway: string | undefined;
    await applyRollout({
      fleet: f,
      driver,
      state: new MemoryStateStore(),
      runId: 'r',
      sink: (e) => {
        tracker.sink(e);
        if (e.type === 'host-started' && e.customerId === 'cust-001') midway = renderProgressMarkdown(tracker.snapshot());
      },
    });
    expect(midway).toMatch(/Rollout running/);
    expect(midway).toMatch(/\| early \| `cust-001` \| ⏳ running \|/);
    expect(midway).toMatch(/\| canary \| `cust-000` \| ✅ upgraded \|/);
    const end = tracker.snapshot();
    expect(end.status).toBe('failed');
    expect(end.failures).toBe(1);
    expect(end.budgetExceeded).toMatchObject({ ring: 'early', budget: 0 });
    expect(end.hosts.map((h) => [h.customerId, h.state])).toEqual([
      ['cust-000', 'done'],
      ['cust-001', 'failed'],
      ['cust-002', 'skipped'],
      ['cust-003', 'skipped'],
    ]);
    expect(renderProgressMarkdown(end)).toMatch(/failure budget of early exceeded/);
  });
});
