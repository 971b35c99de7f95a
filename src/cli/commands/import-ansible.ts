// `fleetkeeper import-ansible INVENTORY --out DIR`: start a fleet repo from
// the Ansible inventory operators already have.
import type { Command } from 'commander';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parse } from 'yaml';
import { parseInventory, resolveInventory, InventoryError } from '../../fleet/ansible/inventory.js';
import { planImport } from '../../fleet/ansible/import.js';
import { loadFleet } from '../../fleet/load.js';
import { LocalDirSource } from '../../fleet/source-local.js';
import { formatError } from '../../fleet/format.js';
import { SCHEMA_DIR_URL } from '../../fleet/schemas.js';

interface Opts { out: string; group?: string; ring: string; tag?: string; repository?: string; force?: boolean }

/** Rings already in the target fleet (name → order), so imports join an existing layout. */
function existingRings(out: string): Map<string, number> {
  const rings = new Map<string, number>();
  const dir = join(out, 'rings');
  if (!existsSync(dir)) return rings;
  for (const f of readdirSync(dir)) {
    const m = /^([a-z0-9][a-z0-9-]*)\.ya?ml$/.exec(f);
    if (!m) continue;
    try {
      const order = (parse(readFileSync(join(dir, f), 'utf8')) as { order?: unknown } | null)?.order;
      rings.set(m[1]!, typeof order === 'number' ? order : 1000);
    } catch {
      rings.set(m[1]!, 1000);
    }
  }
  return rings;
}

export function register(program: Command): void {
  program
    .command('import-ansible')
    .description('create fleet files (defaults.yml, rings/, customers/) from an Ansible inventory (YAML or INI)')
    .argument('<inventory>', 'inventory file, e.g. inventory/hosts.yml or hosts.ini')
    .requiredOption('--out <dir>', 'fleet directory to write into')
    .option('--group <name>', 'only hosts in this group (default: erpnext_servers if the inventory has it, else all hosts)')
    .option('--ring <name>', 'ring for hosts not in a ring-named group (canary, early_group, ...)', 'broad')
    .option('--tag <tag>', 'image tag the hosts run today (else a placeholder in defaults.yml)')
    .option('--repository <repo>', 'image repository (default frappe/erpnext)')
    .option('--force', 'overwrite existing customer files and defaults.yml')
    .action(async (inventoryPath: string, opts: Opts) => {
      const fail = (msg: string) => {
        process.stderr.write(`fleetkeeper import-ansible: ${msg}\n`);
        process.exitCode = 1;
      };
      let hosts;
      try {
        hosts = resolveInventory(parseInventory(inventoryPath, readFileSync(inventoryPath, 'utf8')));
      } catch (e) {
        return fail(`${inventoryPath}: ${e instanceof InventoryError ? e.message : (e as Error).message}`);
      }
      const group = opts.group ?? ([...hosts.values()].some((h) => h.groups.has('erpnext_servers')) ? 'erpnext_servers' : undefined);
      const plan = planImport(hosts, {
        group, defaultRing: opts.ring, rings: existingRings(opts.out), tag: opts.tag, repository: opts.repository, inventoryName: basename(inventoryPath),
      });
      if (plan.errors.length) return fail(plan.errors.join('\n'));

      const conflicts = [...plan.files.keys()].filter((f) => existsSync(join(opts.out, f)));
      if (conflicts.length && !opts.force) {
        return fail(`these files exist already; nothing was written (use --force to overwrite):\n  ${conflicts.map((f) => join(opts.out, f)).join('\n  ')}`);
      }
      // Editors resolve the `$schema=` comments against a copy beside the fleet.
      for (const name of ['customer.schema.json', 'ring.schema.json', 'defaults.schema.json']) {
        const text = readFileSync(new URL(name, SCHEMA_DIR_URL), 'utf8');
        const target = join(opts.out, 'schemas', name);
        if (!existsSync(target) || opts.force) plan.files.set(`schemas/${name}`, text);
      }
      for (const [path, text] of plan.files) {
        const full = join(opts.out, path);
        mkdirSync(dirname(full), { recursive: true });
        writeFileSync(full, text, { flag: opts.force ? 'w' : 'wx' });
      }
      const customers = [...plan.files.keys()].filter((f) => f.startsWith('customers/')).length;
      const lines = [`wrote ${customers} customer file${customers === 1 ? '' : 's'} and ${plan.files.size - customers} other file(s) to ${opts.out}${group ? ` (hosts of group ${group})` : ''}`];
      for (const n of plan.notes) lines.push(`  note: ${n}`);

      const result = await loadFleet(new LocalDirSource(opts.out));
      if (result.ok) {
        lines.push(`${opts.out} validates.`);
      } else {
        lines.push('', `To finish, fill these in (then run \`fleetkeeper validate ${opts.out}\`):`);
        for (const e of result.errors) lines.push(`  ${formatError({ ...e, file: join(opts.out, e.file) })}`);
        if (result.errors.some((e) => e.path === 'ssh.hostKey')) {
          lines.push('', `Host keys: run \`fleetkeeper keyscan ${opts.out}\` and confirm each fingerprint against the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the host).`);
        }
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}
