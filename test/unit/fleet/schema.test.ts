// The schemas are the contract editors see: every field explained, every
// shell-bound pattern with a human message, and the example files wired to them.
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const schemaFiles = ['customer.schema.json', 'ring.schema.json', 'defaults.schema.json'];

function walk(node: unknown, path: string, visit: (n: Record<string, unknown>, path: string) => void): void {
  if (!node || typeof node !== 'object') return;
  visit(node as Record<string, unknown>, path);
  for (const [k, v] of Object.entries(node)) walk(v, `${path}/${k}`, visit);
}

describe('schemas', () => {
  for (const f of schemaFiles) {
    const schema = JSON.parse(readFileSync(join(root, 'schemas', f), 'utf8')) as Record<string, unknown>;
    it(`${f}: every property has a description (directly or via its $ref)`, () => {
      const missing: string[] = [];
      walk(schema, '#', (n, path) => {
        if (!n.properties) return;
        for (const [k, v] of Object.entries(n.properties as Record<string, Record<string, unknown>>)) {
          if (!v.description && !v.$ref) missing.push(`${path}/properties/${k}`);
        }
      });
      expect(missing).toEqual([]);
    });
    it(`${f}: every pattern has a patternErrorMessage; every object is closed`, () => {
      const bad: string[] = [];
      walk(schema, '#', (n, path) => {
        if (n.pattern && typeof n.patternErrorMessage !== 'string' && !path.endsWith('/properties')) bad.push(`${path}: pattern without message`);
        if (n.type === 'object' && n.additionalProperties !== false) bad.push(`${path}: object without additionalProperties: false`);
      });
      expect(bad).toEqual([]);
    });
  }
  it('customer.schema.json definitions all have descriptions', () => {
    const s = JSON.parse(readFileSync(join(root, 'schemas', 'customer.schema.json'), 'utf8')) as { definitions: Record<string, { description?: string }> };
    expect(Object.entries(s.definitions).filter(([, d]) => !d.description).map(([k]) => k)).toEqual([]);
  });
});

describe('example fleet files', () => {
  const files = ['defaults.yml', ...readdirSync(join(root, 'fleet/rings')).map((f) => `rings/${f}`), ...readdirSync(join(root, 'fleet/customers')).map((f) => `customers/${f}`)];
  it('has a dozen customers and three rings', () => {
    expect(files.filter((f) => f.startsWith('customers/'))).toHaveLength(12);
    expect(files.filter((f) => f.startsWith('rings/'))).toHaveLength(3);
  });
  for (const f of files) {
    it(`${f} starts with a yaml-language-server line pointing at an existing schema`, () => {
      const first = readFileSync(join(root, 'fleet', f), 'utf8').split('\n')[0]!;
      const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
      expect(m, first).not.toBeNull();
      const target = resolve(join(root, 'fleet', dirname(f)), m![1]!);
      const kind = f === 'defaults.yml' ? 'defaults' : f.startsWith('rings/') ? 'ring' : 'customer';
      expect(target).toBe(join(root, 'schemas', `${kind}.schema.json`));
    });
  }
});
