import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { setCustomerTag, setCustomerHostKey, renderCustomerFile, loadFleet, MemorySource } from '../../../src/fleet/index.js';
import { baseFleet } from './helpers.js';

const FILE = [
  '# yaml-language-server: $schema=../schemas/customer.schema.json',
  '# Tanaka: only on Saturday nights',
  'ring: early   # moved from broad in March',
  'ssh:',
  '    host: erp.tanaka.example',
  '    hostKey: REPLACE-ME-run-fleetkeeper-keyscan   # fill in',
  'image:',
  '    repository: frappe/erpnext',
  "    tag: 'v15.38.0'  # pinned",
  '',
  '# end of file',
  '',
].join('\n');

describe('setCustomerTag', () => {
  it('changes only the tag, keeping comments, quotes and indentation', () => {
    const out = setCustomerTag(FILE, 'v15.40.1');
    expect(out).toBe(FILE.replace("tag: 'v15.38.0'", "tag: 'v15.40.1'"));
  });
  it('quotes a tag YAML would read as a number', () => {
    const plain = FILE.replace("'v15.38.0'", 'v15.38.0');
    const out = setCustomerTag(plain, '15.40');
    expect(out).toBe(plain.replace('tag: v15.38.0', 'tag: "15.40"'));
    expect(parse(out).image.tag).toBe('15.40');
  });
  it('adds image.tag to an image block without one', () => {
    const noTag = FILE.replace("    tag: 'v15.38.0'  # pinned\n", '');
    expect(setCustomerTag(noTag, 'v15.40.1')).toBe(noTag.replace('    repository: frappe/erpnext\n', '    repository: frappe/erpnext\n    tag: v15.40.1\n'));
  });
  it('adds an image block when there is none', () => {
    const text = 'ring: canary\nssh:\n  host: h.example\n';
    expect(setCustomerTag(text, 'v1')).toBe('ring: canary\nssh:\n  host: h.example\nimage:\n  tag: v1\n');
    expect(setCustomerTag('ring: canary', 'v1')).toBe('ring: canary\nimage:\n  tag: v1\n');
  });
  it('handles flow mappings by re-rendering, still exact in content', () => {
    const out = setCustomerTag('ring: canary\nimage: {repository: x/y, tag: v1}\n', 'v2');
    expect(parse(out)).toEqual({ ring: 'canary', image: { repository: 'x/y', tag: 'v2' } });
  });
  it('writes digests', () => {
    const d = `sha256:${'ab'.repeat(32)}`;
    expect(parse(setCustomerTag(FILE, d)).image.tag).toBe(d);
  });
  it('refuses invalid tags and broken files', () => {
    expect(() => setCustomerTag(FILE, 'v1;rm -rf /')).toThrow(/refusing to write invalid image tag/);
    expect(() => setCustomerTag('ring: [x', 'v1')).toThrow(/YAML errors/);
  });
  it('every example customer file can be promoted and still validates', async () => {
    const files = baseFleet();
    files['customers/acme.yml'] = setCustomerTag(files['customers/acme.yml']!, 'v16.0.0');
    const r = await loadFleet(new MemorySource(files));
    expect(r.ok && r.fleet.customers.acme!.image.tag).toBe('v16.0.0');
    const real = readFileSync(new URL('../../../fleet/customers/tanaka-seimitsu.yml', import.meta.url), 'utf8');
    const out = setCustomerTag(real, 'v15.40.1');
    expect(out.split('\n').filter((l, i) => l !== real.split('\n')[i])).toEqual(['  tag: v15.40.1']);
  });
});

describe('setCustomerHostKey', () => {
  it('replaces the placeholder in place', () => {
    const fp = 'SHA256:MmDNtcP8Gqj/g2B7KcGUB+vQgCZO9hiPmLH0GwuLk54';
    expect(setCustomerHostKey(FILE, fp)).toBe(FILE.replace('REPLACE-ME-run-fleetkeeper-keyscan', fp));
    expect(() => setCustomerHostKey(FILE, 'SHA256:short')).toThrow(/invalid host key/);
  });
});

describe('renderCustomerFile', () => {
  it('writes a file that loads', async () => {
    const text = renderCustomerFile({
      schemaPath: '../schemas/customer.schema.json', comment: ['imported from inventory/hosts.yml (host customer_a)'],
      ring: 'canary', ssh: { host: '192.0.2.10', hostKey: 'SHA256:MmDNtcP8Gqj/g2B7KcGUB+vQgCZO9hiPmLH0GwuLk54', port: 2222 },
      compose: { dir: '/opt/customer_a/erpnext' }, image: { tag: 'v15.38.0' },
    });
    expect(text.split('\n').slice(0, 3)).toEqual(['# yaml-language-server: $schema=../schemas/customer.schema.json', '# imported from inventory/hosts.yml (host customer_a)', 'ring: canary']);
    const files = baseFleet();
    files['customers/customer-a.yml'] = text;
    const r = await loadFleet(new MemorySource(files));
    expect(r.ok && r.fleet.customers['customer-a']!.ssh).toEqual({ host: '192.0.2.10', port: 2222, user: 'deploy', hostKey: 'SHA256:MmDNtcP8Gqj/g2B7KcGUB+vQgCZO9hiPmLH0GwuLk54' });
  });
});
