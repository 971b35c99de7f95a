// 1,000 customers in memory through the full loader: a benchmark figure,
// printed, not asserted (timing assertions are flaky on shared machines).
import { expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { loadFleet, MemorySource } from '../../../src/fleet/index.js';

function fingerprint(i: number): string {
  return 'SHA256:' + createHash('sha256').update(`host-${i}`).digest('base64').replace(/=+$/, '');
}

it('validates 1,000 generated customers', async () => {
  const files = new Map<string, string>();
  files.set('defaults.yml', 'ssh:\n  user: deploy\nimage:\n  repository: frappe/erpnext\nbackup:\n  keep: 5\n');
  files.set('rings/canary.yml', 'order: 1\nconcurrency: 1\nfailureBudget: 0\nbakeTime: 1d\nnext: early\n');
  files.set('rings/early.yml', 'order: 2\nconcurrency: 4\nfailureBudget: 2\nbakeTime: 2d\nnext: broad\n');
  files.set('rings/broad.yml', 'order: 3\nconcurrency: 16\nfailureBudget: 10\nbakeTime: 0m\n');
  for (let i = 0; i < 1000; i++) {
    const id = `customer-${String(i).padStart(4, '0')}`;
    const ring = i < 10 ? 'canary' : i < 100 ? 'early' : 'broad';
    files.set(`customers/${id}.yml`, [
      `# yaml-language-server: $schema=../schemas/customer.schema.json`,
      `displayName: Customer ${i}`,
      `ring: ${ring}`,
      'ssh:',
      `  host: erp.${id}.example`,
      `  hostKey: ${fingerprint(i)}`,
      'compose:',
      `  dir: /opt/${id}/frappe_docker`,
      'image:',
      `  tag: ${ring === 'canary' ? 'v15.40.1' : 'v15.38.0'}`,
      i % 7 === 0 ? 'maintenanceWindow:\n  days: [sat, sun]\n  start: "22:00"\n  end: "04:00"\n  timezone: Europe/Berlin' : '',
      '',
    ].join('\n'));
  }
  const source = new MemorySource(files, 'generated');
  await loadFleet(source); // warm-up: schema compilation happens once per process
  const t0 = performance.now();
  const r = await loadFleet(source);
  const ms = performance.now() - t0;
  console.log(`fleet benchmark: 1,000 customers loaded and validated in ${ms.toFixed(0)} ms`);
  expect(r.ok).toBe(true);
  if (r.ok) expect(Object.keys(r.fleet.customers)).toHaveLength(1000);
});
