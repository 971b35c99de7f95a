import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseIniInventory, parseYamlInventory, resolveInventory, expandHostPattern } from '../../../src/fleet/ansible/inventory.js';
import { planImport, HOST_KEY_PLACEHOLDER, toCustomerId } from '../../../src/fleet/ansible/import.js';
import { loadFleet, LocalDirSource, MemorySource, setCustomerHostKey, setScalar } from '../../../src/fleet/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const fixture = (f: string) => readFileSync(join(root, 'test/fixtures/ansible', f), 'utf8');
const tsx = import.meta.resolve('tsx');
const KEYS = ['SHA256:MmDNtcP8Gqj/g2B7KcGUB+vQgCZO9hiPmLH0GwuLk54', 'SHA256:amsrVEFHjgXvmfTlMPZ4HnRTwPjQvnIDGBmhg7D6Cmg'];

function fleetkeeper(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', tsx, join(root, 'src/cli/main.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('inventory parsing', () => {
  it('reads the seed YAML inventory and its INI equivalent the same way', () => {
    const y = resolveInventory(parseYamlInventory(fixture('hosts.yml')));
    const i = resolveInventory(parseIniInventory(fixture('hosts.ini')));
    for (const inv of [y, i]) {
      expect([...inv.keys()].sort()).toEqual(['customer_a', 'customer_b']);
      expect(inv.get('customer_a')!.vars).toEqual({ ansible_host: '192.168.1.10', ansible_user: 'your_user', erpnext_dir: '/opt/customer_a/erpnext' });
      expect([...inv.get('customer_b')!.groups].sort()).toEqual(['all', 'erpnext_servers']);
    }
  });
  it('INI: children, vars precedence, ranges, host:port, quotes and comments', () => {
    const inv = resolveInventory(parseIniInventory(fixture('staged.ini')));
    expect([...inv.keys()].sort()).toEqual(['Mueller_Maschinenbau', 'erp.kanzlei-weber.example', 'erp.tanaka.example', 'mail.internal.example', 'shop01.pinecrest.example', 'shop02.pinecrest.example', 'shop03.pinecrest.example']);
    expect(inv.get('shop02.pinecrest.example')!.vars.ansible_user).toBe('erpadmin'); // child group beats parent
    expect(inv.get('erp.kanzlei-weber.example')!.vars.ansible_user).toBe('deploy');
    expect(inv.get('erp.tanaka.example')!.vars.ansible_port).toBe('2200');
    expect(inv.get('Mueller_Maschinenbau')!.vars).toMatchObject({ ansible_port: '2222', erpnext_dir: '/opt/mueller/frappe_docker' });
    expect([...inv.get('erp.kanzlei-weber.example')!.groups].sort()).toEqual(['all', 'canary_group', 'erpnext_servers']);
    expect([...inv.get('mail.internal.example')!.groups]).toEqual(['all']);
  });
  it('host patterns', () => {
    expect(expandHostPattern('web[01:03].x')).toEqual(['web01.x', 'web02.x', 'web03.x']);
    expect(expandHostPattern('db-[a:c]')).toEqual(['db-a', 'db-b', 'db-c']);
    expect(expandHostPattern('plain')).toEqual(['plain']);
  });
  it('reports bad INI with its line', () => {
    expect(() => parseIniInventory('[g]\nh x="unclosed\n')).toThrow(/^line 2: unclosed quote$/);
    expect(() => parseIniInventory('[g:vars]\njust words\n')).toThrow(/^line 2: expected key=value/);
    expect(() => parseIniInventory('[a:children]\nb\n[b:children]\na\n[a]\nh\n')).not.toThrow();
    expect(() => resolveInventory(parseIniInventory('[a:children]\nb\n[b:children]\na\n[a]\nh\n'))).toThrow(/loop in children/);
  });
  it('ids from host names', () => {
    expect(toCustomerId('customer_a')).toBe('customer-a');
    expect(toCustomerId('Mueller_Maschinenbau GmbH')).toBe('mueller-maschinenbau-gmbh');
  });
});

describe('planImport', () => {
  const opts = { defaultRing: 'broad', rings: new Map<string, number>(), inventoryName: 'hosts.yml' };
  it('turns the seed inventory into files that validate once placeholders are filled', async () => {
    const plan = planImport(resolveInventory(parseYamlInventory(fixture('hosts.yml'))), { ...opts, group: 'erpnext_servers' });
    expect(plan.errors).toEqual([]);
    expect([...plan.files.keys()].sort()).toEqual(['customers/customer-a.yml', 'customers/customer-b.yml', 'defaults.yml', 'rings/broad.yml', 'rings/canary.yml', 'rings/early.yml']);
    expect(plan.notes).toContain("host customer_a → customers/customer-a.yml (ids are lower-case letters, digits and '-')");
    const files = Object.fromEntries(plan.files);
    const before = await loadFleet(new MemorySource(files, 'out'));
    expect(before.ok).toBe(false);
    expect(!before.ok && before.errors.map((e) => `${e.file}:${e.line} ${e.path}: ${e.message}`)).toEqual([
      "customers/customer-a.yml:6 ssh.hostKey: placeholder 'REPLACE-ME-run-fleetkeeper-keyscan' still needs a value: run `fleetkeeper keyscan DIR` to record the host's key after checking it",
      "customers/customer-b.yml:6 ssh.hostKey: placeholder 'REPLACE-ME-run-fleetkeeper-keyscan' still needs a value: run `fleetkeeper keyscan DIR` to record the host's key after checking it",
      "defaults.yml:10 image.tag: placeholder 'REPLACE-ME-tag-the-hosts-run-today' still needs a value: set the tag the hosts run today, e.g. v15.38.0",
    ]);
    files['customers/customer-a.yml'] = setCustomerHostKey(files['customers/customer-a.yml']!, KEYS[0]!);
    files['customers/customer-b.yml'] = setCustomerHostKey(files['customers/customer-b.yml']!, KEYS[1]!);
    files['defaults.yml'] = setScalar(files['defaults.yml']!, ['image', 'tag'], 'v15.38.0');
    const after = await loadFleet(new MemorySource(files, 'out'));
    expect(after.ok).toBe(true);
    if (!after.ok) return;
    expect(after.fleet.customers['customer-a']).toMatchObject({
      ring: 'broad', ssh: { host: '192.168.1.10', port: 22, user: 'your_user', hostKey: KEYS[0] }, compose: { dir: '/opt/customer_a/erpnext' }, image: { repository: 'frappe/erpnext', tag: 'v15.38.0' },
    });
  });
  it('maps ring-named groups, ports, per-host users, and leaves secrets out', () => {
    const plan = planImport(resolveInventory(parseIniInventory(fixture('staged.ini'))), { ...opts, group: 'erpnext_servers', tag: 'v15.38.0' });
    expect(plan.errors).toEqual([]);
    const all = [...plan.files.values()].join('\n');
    expect(all).not.toMatch(/vault_become_pass|erp_fleet/);
    expect(plan.notes).toContain('not copied (secrets or controller paths stay out of the fleet repo): ansible_become_pass, ansible_ssh_private_key_file');
    expect(plan.files.get('customers/erp-kanzlei-weber-example.yml')).toMatch(/^ring: canary$/m);
    expect(plan.files.get('customers/mueller-maschinenbau.yml')).toMatch(/^ring: early\nssh:\n  host: erp\.mueller\.example\n  port: 2222\n  user: deploy\n/m);
    expect(plan.files.get('customers/shop01-pinecrest-example.yml')).toMatch(/user: erpadmin/);
    expect(plan.files.has('customers/mail-internal-example.yml')).toBe(false);
  });
  it('writes a placeholder for templated values instead of copying them', async () => {
    const inv = resolveInventory(parseYamlInventory('all:\n  hosts:\n    acme:\n      ansible_host: "{{ lookup(\'env\', \'ACME\') }}"\n      ansible_user: deploy\n      erpnext_dir: /opt/acme\n'));
    const plan = planImport(inv, opts);
    expect(plan.files.get('customers/acme.yml')).toMatch(/host: REPLACE-ME-ssh-host/);
    const r = await loadFleet(new MemorySource(Object.fromEntries(plan.files)));
    expect(!r.ok && r.errors.map((e) => e.path)).toEqual(['ssh.host', 'ssh.hostKey', 'image.tag']);
  });
  it('refuses unknown groups and id clashes', () => {
    const inv = resolveInventory(parseIniInventory('[web]\nAcme\nacme\n'));
    expect(planImport(inv, { ...opts, group: 'erpnext' }).errors).toEqual(["group 'erpnext' has no hosts in the inventory (groups with hosts: web)"]);
    expect(planImport(inv, opts).errors).toEqual(["hosts 'Acme' and 'acme' would both become customers/acme.yml; rename one in the inventory"]);
  });
});

describe('fleetkeeper import-ansible', () => {
  it('writes a fleet from the seed inventory, never overwrites without --force', () => {
    const out = mkdtempSync(join(tmpdir(), 'fk-import-'));
    try {
      const r = fleetkeeper(['import-ansible', join(root, 'test/fixtures/ansible/hosts.yml'), '--out', out, '--tag', 'v15.38.0']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^wrote 2 customer files and 7 other file\(s\) to .* \(hosts of group erpnext_servers\)$/m);
      expect(r.stdout).toContain(`run \`fleetkeeper keyscan ${out}\``);
      expect(readdirSync(join(out, 'customers')).sort()).toEqual(['customer-a.yml', 'customer-b.yml']);
      expect(readFileSync(join(out, 'customers/customer-a.yml'), 'utf8')).toContain(`hostKey: ${HOST_KEY_PLACEHOLDER}`);
      expect(existsSync(join(out, 'schemas/customer.schema.json'))).toBe(true);

      const marker = '# edited by hand\n';
      writeFileSync(join(out, 'customers/customer-a.yml'), marker + readFileSync(join(out, 'customers/customer-a.yml'), 'utf8'));
      const again = fleetkeeper(['import-ansible', join(root, 'test/fixtures/ansible/hosts.ini'), '--out', out]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/these files exist already; nothing was written/);
      expect(readFileSync(join(out, 'customers/customer-a.yml'), 'utf8').startsWith(marker)).toBe(true);

      const forced = fleetkeeper(['import-ansible', join(root, 'test/fixtures/ansible/hosts.ini'), '--out', out, '--force', '--tag', 'v15.38.0']);
      expect(forced.code).toBe(0);
      expect(readFileSync(join(out, 'customers/customer-a.yml'), 'utf8').startsWith(marker)).toBe(false);

      // fill the placeholders the way keyscan would, then the fleet validates
      for (const [i, id] of ['customer-a', 'customer-b'].entries()) {
        const f = join(out, `customers/${id}.yml`);
        writeFileSync(f, setCustomerHostKey(readFileSync(f, 'utf8'), KEYS[i]!));
      }
      const v = fleetkeeper(['validate', out]);
      expect(v.stdout).toMatch(/2 customers in 3 rings \(canary 0, early 0, broad 2\); 2 warnings/);
      expect(v.code).toBe(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
  it('loads through LocalDirSource too', async () => {
    const r = await loadFleet(new LocalDirSource(join(root, 'fleet')));
    expect(r.ok).toBe(true);
  });
});
