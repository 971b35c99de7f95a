import { describe, expect, it } from 'vitest';
import { configuratorRanTag } from '../../../src/host/upgrade.js';

// Bug found by the demo: when a tag is re-pushed after the container was
// created, `docker compose ps` names the configurator's image by its bare ID;
// the wait then timed out and a healthy upgrade was rolled back.
describe('configuratorRanTag', () => {
  it('accepts the tag it was asked to wait for', () => {
    expect(configuratorRanTag('127.0.0.1:5000/erpnext:v15.41.0', 'v15.41.0')).toBe(true);
    expect(configuratorRanTag('frappe/erpnext:v15.41.0', 'v15.41.0')).toBe(true);
  });
  it('accepts a bare image ID (tag re-pointed since the container was created)', () => {
    expect(configuratorRanTag('sha256:0785c1d2e3f4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233', 'v15.41.0')).toBe(true);
    expect(configuratorRanTag('0785c1d2e3f4', 'v15.41.0')).toBe(true);
  });
  it('rejects another tag or no image', () => {
    expect(configuratorRanTag('127.0.0.1:5000/erpnext:v15.38.0', 'v15.41.0')).toBe(false);
    expect(configuratorRanTag('127.0.0.1:5000/erpnext', 'v15.41.0')).toBe(false);
    expect(configuratorRanTag(undefined, 'v15.41.0')).toBe(false);
  });
});
