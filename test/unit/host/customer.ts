// Customer objects for host-layer tests, shaped like the fleet loader's output.
import type { Customer } from '../../../src/fleet/types.js';

export function makeCustomer(over: Partial<Customer> & { id?: string } = {}): Customer {
  const id = over.id ?? 'acme';
  return {
    id,
    file: `customers/${id}.yml`,
    ring: 'canary',
    ssh: { host: '127.0.0.1', port: 22, user: 'deploy', hostKey: 'SHA256:' + 'A'.repeat(43) },
    compose: { dir: `/srv/${id}`, files: [] },
    sites: ['erp.acme.test'],
    image: { repository: '127.0.0.1:5000/erpnext', tag: 'v15.40.1' },
    backup: { dir: '/var/backups/fleetkeeper', keep: 3, withFiles: false, minSizeRatio: 0.5 },
    health: { url: 'http://127.0.0.1:8080', attempts: 3, intervalSeconds: 1, timeoutSeconds: 5 },
    preflight: { minFreeDiskMb: 100 },
    timeouts: { connectSeconds: 5, commandSeconds: 60, pullSeconds: 300, migrateSeconds: 1800, backupSeconds: 600 },
    ...over,
  };
}
