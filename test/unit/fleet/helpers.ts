// A small valid fleet in memory; each test breaks one thing and checks the
// exact file, line and message that comes back.
import { expect } from 'vitest';
import { loadFleet, MemorySource, type FleetError, type LoadResult } from '../../../src/fleet/index.js';

export const KEY_A = 'SHA256:MmDNtcP8Gqj/g2B7KcGUB+vQgCZO9hiPmLH0GwuLk54';
export const KEY_B = 'SHA256:amsrVEFHjgXvmfTlMPZ4HnRTwPjQvnIDGBmhg7D6Cmg';

export function baseFleet(): Record<string, string> {
  return {
    'defaults.yml': [
      'ssh:',
      '  user: deploy',
      'image:',
      '  repository: frappe/erpnext',
      '',
    ].join('\n'),
    'rings/canary.yml': 'order: 1\nconcurrency: 1\nfailureBudget: 0\nbakeTime: 1d\nnext: broad\nautoPromote: true\n',
    'rings/broad.yml': 'order: 2\nconcurrency: 4\nfailureBudget: 2\nbakeTime: 0m\n',
    'customers/acme.yml': [
      '# Acme GmbH',               // 1
      'ring: canary',               // 2
      'ssh:',                       // 3
      '  host: erp.acme.example',   // 4
      `  hostKey: ${KEY_A}`,        // 5
      'compose:',                   // 6
      '  dir: /opt/acme/frappe_docker', // 7
      'image:',                     // 8
      '  tag: v15.40.1',            // 9
      '',
    ].join('\n'),
    'customers/globex.yml': [
      'ring: broad',                // 1
      'ssh:',                       // 2
      '  host: 192.0.2.10',         // 3
      `  hostKey: ${KEY_B}`,        // 4
      'compose:',                   // 5
      '  dir: /opt/globex/frappe_docker', // 6
      'image:',                     // 7
      '  tag: v15.38.0',            // 8
      '',
    ].join('\n'),
  };
}

export const NOW = new Date('2026-06-01T12:00:00Z');

export async function load(files: Record<string, string | Uint8Array>): Promise<LoadResult> {
  return loadFleet(new MemorySource(files, 'fleet'), { now: NOW });
}

/** Load with one file replaced (or removed with null). */
export async function loadWith(changes: Record<string, string | Uint8Array | null>): Promise<LoadResult> {
  const files: Record<string, string | Uint8Array> = baseFleet();
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete files[k];
    else files[k] = v;
  }
  return load(files);
}

export function errorsOf(r: LoadResult): FleetError[] {
  return r.ok ? [] : r.errors;
}

/** Exactly one error, at file:line, whose message matches. */
export function expectOneError(r: LoadResult, file: string, line: number, message: RegExp | string, path?: string): FleetError {
  expect(r.ok, 'expected the fleet to be rejected').toBe(false);
  const errs = errorsOf(r);
  expect(errs.map((e) => `${e.file}:${e.line} ${e.path}: ${e.message}`)).toHaveLength(1);
  const e = errs[0]!;
  expect(e.file).toBe(file);
  expect(e.line).toBe(line);
  if (typeof message === 'string') expect(e.message).toBe(message);
  else expect(e.message).toMatch(message);
  if (path !== undefined) expect(e.path).toBe(path);
  return e;
}

export function expectOk(r: LoadResult): void {
  if (!r.ok) expect(r.errors.map((e) => `${e.file}:${e.line} ${e.path}: ${e.message}`)).toEqual([]);
  expect(r.ok).toBe(true);
}

export function replaceLine(text: string, line: number, replacement: string): string {
  const lines = text.split('\n');
  lines[line - 1] = replacement;
  return lines.join('\n');
}
