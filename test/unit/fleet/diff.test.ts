import { describe, expect, it } from 'vitest';
import { diffFleets, loadFleet, MemorySource, setCustomerTag, touchesConnection, parseDuration, formatDuration, formatError, formatGithubAnnotation, type Fleet } from '../../../src/fleet/index.js';
import { baseFleet } from './helpers.js';

async function fleetOf(files: Record<string, string>): Promise<Fleet> {
  const r = await loadFleet(new MemorySource(files));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.fleet;
}

describe('diffFleets', () => {
  it('no change, no diff', async () => {
    const f = await fleetOf(baseFleet());
    expect(diffFleets(f, await fleetOf(baseFleet()))).toEqual({ changes: [], ringsChanged: [] });
  });
  it('tag moves, additions, removals, connection changes and ring edits', async () => {
    const base = baseFleet();
    const head = baseFleet();
    head['customers/acme.yml'] = setCustomerTag(head['customers/acme.yml']!, 'v15.41.0');
    head['customers/globex.yml'] = head['customers/globex.yml']!.replace('192.0.2.10', '192.0.2.11');
    head['customers/initech.yml'] = head['customers/acme.yml']!.replace('erp.acme.example', 'erp.initech.example');
    head['rings/broad.yml'] = head['rings/broad.yml']!.replace('concurrency: 4', 'concurrency: 8');
    base['customers/umbrella.yml'] = base['customers/acme.yml']!.replace('erp.acme.example', 'erp.umbrella.example');
    head['defaults.yml'] += 'backup:\n  keep: 7\n';
    const d = diffFleets(await fleetOf(base), await fleetOf(head));
    expect(d.ringsChanged).toEqual(['broad']);
    expect(d.changes.map((c) => ({ id: c.id, kind: c.kind, tag: c.tag, fields: c.fields }))).toEqual([
      { id: 'acme', kind: 'changed', tag: { from: 'v15.40.1', to: 'v15.41.0' }, fields: ['backup.keep', 'image.tag'] },
      { id: 'globex', kind: 'changed', tag: { from: 'v15.38.0', to: 'v15.38.0' }, fields: ['backup.keep', 'ssh.host'] },
      { id: 'initech', kind: 'added', tag: { to: 'v15.41.0' }, fields: [] },
      { id: 'umbrella', kind: 'removed', tag: { from: 'v15.40.1' }, fields: [] },
    ]);
    expect(d.changes.map(touchesConnection)).toEqual([false, true, false, false]);
    expect(d.changes[0]!.before!.image.tag).toBe('v15.40.1');
    expect(d.changes[0]!.after!.image.tag).toBe('v15.41.0');
  });
  it('renaming acme.yml to acme.yaml is no change', async () => {
    const head = baseFleet();
    head['customers/acme.yaml'] = head['customers/acme.yml']!;
    delete head['customers/acme.yml'];
    expect(diffFleets(await fleetOf(baseFleet()), await fleetOf(head)).changes).toEqual([]);
  });
});

describe('durations', () => {
  it('parses and prints', () => {
    expect([parseDuration('30m'), parseDuration('2h'), parseDuration('1h30m'), parseDuration('1d'), parseDuration('0m'), parseDuration('1d2h3m4s')]).toEqual([1800, 7200, 5400, 86400, 0, 93784]);
    expect([parseDuration(''), parseDuration('1m1h'), parseDuration('1.5h'), parseDuration('h')]).toEqual([undefined, undefined, undefined, undefined]);
    expect([formatDuration(5400), formatDuration(0), formatDuration(93784)]).toEqual(['1h30m', '0s', '1d2h3m4s']);
  });
});

describe('formatError', () => {
  const e = { file: 'customers/acme.yml', line: 7, column: 8, path: 'image.tag', message: "'v15.40;rm' is not a valid image tag", severity: 'error' as const };
  it('file:line:col path: message', () => {
    expect(formatError(e)).toBe("customers/acme.yml:7:8 image.tag: 'v15.40;rm' is not a valid image tag");
    expect(formatError({ ...e, path: '', severity: 'warning', message: 'not a .yml file, ignored' })).toBe('customers/acme.yml:7:8 warning: not a .yml file, ignored');
  });
  it('GitHub annotations escape their properties', () => {
    expect(formatGithubAnnotation({ ...e, message: 'a\nb %' })).toBe('::error file=customers/acme.yml,line=7,col=8,title=image.tag::a%0Ab %25');
  });
});
