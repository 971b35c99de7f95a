import { describe, expect, it } from 'vitest';
import { detectLayout, imageRepo, imageTag, parseDfMinFreeMb, parseEnv, parsePs } from '../../../src/host/compose-parse.js';

describe('compose parsing', () => {
  it('reads ps output as NDJSON and as an array', () => {
    const line = (s: string, st: string, code = 0) => JSON.stringify({ Service: s, State: st, ExitCode: code, Image: `127.0.0.1:5000/erpnext:v15.38.0` });
    const nd = [line('backend', 'running'), line('configurator', 'exited', 0)].join('\n');
    expect(parsePs(nd)).toEqual([
      { service: 'backend', state: 'running', exitCode: 0, image: '127.0.0.1:5000/erpnext:v15.38.0' },
      { service: 'configurator', state: 'exited', exitCode: 0, image: '127.0.0.1:5000/erpnext:v15.38.0' },
    ]);
    expect(parsePs(`[${line('frontend', 'running')}]`)[0]!.service).toBe('frontend');
    expect(parsePs('')).toEqual([]);
  });
  it('splits image references with registry ports and digests', () => {
    expect(imageTag('127.0.0.1:5000/erpnext:v15.40.1')).toBe('v15.40.1');
    expect(imageRepo('127.0.0.1:5000/erpnext:v15.40.1')).toBe('127.0.0.1:5000/erpnext');
    expect(imageTag('127.0.0.1:5000/erpnext')).toBe('latest');
    expect(imageTag(`frappe/erpnext@sha256:${'a'.repeat(64)}`)).toBe(`sha256:${'a'.repeat(64)}`);
  });
  it('parses .env lines', () => {
    expect(parseEnv('# c\nexport A=1\nB = "two words"\nC=x # comment\nbad line\n')).toEqual({ A: '1', B: 'two words', C: 'x' });
  });
  it('detects which .env variable drives the tag', () => {
    const line = '${CUSTOM_IMAGE:-frappe/erpnext}:${CUSTOM_TAG:-$ERPNEXT_VERSION}';
    expect(detectLayout(line, { CUSTOM_IMAGE: 'r/e', CUSTOM_TAG: 'v1', ERPNEXT_VERSION: 'v0' }, 'compose.yaml')).toEqual({
      kind: 'env',
      variable: 'CUSTOM_TAG',
      imageVariable: 'CUSTOM_IMAGE',
    });
    expect(detectLayout(line, { ERPNEXT_VERSION: 'v0', CUSTOM_TAG: '' }, 'c')).toEqual({ kind: 'env', variable: 'ERPNEXT_VERSION' });
    expect(detectLayout('frappe/erpnext:${ERPNEXT_VERSION}', { ERPNEXT_VERSION: 'v0' }, 'c')).toEqual({ kind: 'env', variable: 'ERPNEXT_VERSION' });
    expect(detectLayout('frappe/erpnext:v15.38.0', {}, 'pwd.yml')).toEqual({ kind: 'baked', file: 'pwd.yml' });
    expect(detectLayout('127.0.0.1:5000/erpnext:v15.38.0', {}, 'gen.yaml')).toEqual({ kind: 'baked', file: 'gen.yaml' });
    expect(detectLayout(line, {}, 'c').kind).toBe('unknown');
    expect(detectLayout(undefined, {}, 'c').kind).toBe('unknown');
  });
  it('takes the smallest free space', () => {
    const df = 'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/a 100 1 2048000 1% /\n/dev/b 100 1 1024 1% /var\n';
    expect(parseDfMinFreeMb(df)).toBe(1);
  });
});
