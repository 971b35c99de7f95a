// `fleetkeeper keyscan DIR`: record the SSH host key fingerprint of customers
// whose files still have the import placeholder, after the operator confirms
// each one.
import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isIPv4, isIPv6 } from 'node:net';
import { loadFleetDraft, PLACEHOLDER_PREFIX } from '../../fleet/load.js';
import { LocalDirSource } from '../../fleet/source-local.js';
import { checkDefinition } from '../../fleet/schemas.js';
import { setCustomerHostKey } from '../../fleet/edit.js';
import { scanHostKey } from '../../fleet/keyscan.js';

interface Opts { customer?: string[]; yes?: boolean; timeout: string }

function usableHost(h: unknown): h is string {
  if (!checkDefinition('sshHost', h)) return false;
  const s = h as string;
  if (/^[0-9.]+$/.test(s)) return isIPv4(s);
  if (s.includes(':')) return isIPv6(s);
  return true;
}

export function register(program: Command): void {
  program
    .command('keyscan')
    .description("record customers' SSH host key fingerprints (only where the file has a placeholder, or --customer)")
    .argument('<dir>', 'fleet root directory')
    .option('--customer <id...>', 'scan these customers even if they have a key (a changed key needs interactive confirmation)')
    .option('--yes', 'record keys without asking (only for placeholders, never to replace a pinned key)')
    .option('--timeout <seconds>', 'handshake timeout per host', '10')
    .action(async (dir: string, opts: Opts) => {
      const out = (s: string) => process.stdout.write(s + '\n');
      const draft = await loadFleetDraft(new LocalDirSource(dir));
      const wanted = new Set(opts.customer ?? []);
      for (const id of wanted) {
        if (!draft.customers.has(id)) {
          process.stderr.write(`fleetkeeper keyscan: no customer '${id}' in ${dir} (customers/${id}.yml)\n`);
          process.exitCode = 1;
          return;
        }
      }
      const targets = [...draft.customers.values()].filter((c) => {
        const own = (c.file.data?.ssh as Record<string, unknown> | undefined)?.hostKey;
        return wanted.size ? wanted.has(c.id) : typeof own === 'string' && own.startsWith(PLACEHOLDER_PREFIX);
      });
      if (targets.length === 0) {
        out(`nothing to scan: no customer in ${dir} has a host key placeholder (use --customer ID to re-scan one)`);
        return;
      }
      // Answers are read as lines (buffered), so they can also be piped in.
      const rl = opts.yes ? undefined : createInterface({ input: process.stdin });
      const answers = rl?.[Symbol.asyncIterator]();
      const ask = async (q: string): Promise<string> => {
        process.stdout.write(q);
        const next = await answers!.next();
        if (next.done) process.stdout.write('\n');
        return next.done ? '' : String(next.value);
      };
      let failed = 0;
      let recorded = 0;
      try {
        for (const c of targets) {
          const ssh = (c.merged?.ssh ?? {}) as Record<string, unknown>;
          const { host, port } = ssh;
          if (!usableHost(host) || !checkDefinition('sshPort', port)) {
            out(`${c.id}: skipped, ssh.host/ssh.port are not valid yet (run \`fleetkeeper validate ${dir}\`)`);
            failed++;
            continue;
          }
          const where = `${host}:${String(port)}`;
          let key;
          try {
            key = await scanHostKey(host, port as number, Number(opts.timeout) * 1000);
          } catch (e) {
            out(`${c.id}: ${(e as Error).message}`);
            failed++;
            continue;
          }
          const pinned = (c.file.data?.ssh as Record<string, unknown> | undefined)?.hostKey;
          const hasPin = typeof pinned === 'string' && !pinned.startsWith(PLACEHOLDER_PREFIX);
          out(`${c.id}: ${where} offers ${key.type} ${key.fingerprint}`);
          if (hasPin && pinned === key.fingerprint) { out('  matches the pinned key; nothing to do'); continue; }
          if (hasPin) out(`  WARNING: differs from the pinned key ${String(pinned)}. The host was reinstalled, or this is not the host you think it is.`);
          let ok: boolean;
          if (rl) {
            const answer = await ask(`  Compare with \`ssh-keygen -lf /etc/ssh/ssh_host_${key.type.replace(/^ssh-|-sha2-nistp\d+$/g, '')}_key.pub\` run on the host itself. Record it in ${c.file.file}? [y/N] `);
            ok = /^y(es)?$/i.test(answer.trim());
          } else if (hasPin) {
            out('  not replaced: a changed key is only recorded after interactive confirmation');
            ok = false;
            failed++;
          } else ok = true;
          if (!ok) continue;
          const path = join(dir, c.file.file);
          writeFileSync(path, setCustomerHostKey(readFileSync(path, 'utf8'), key.fingerprint));
          out(`  recorded in ${c.file.file}`);
          recorded++;
        }
      } finally {
        rl?.close();
      }
      out(`${recorded} key${recorded === 1 ? '' : 's'} recorded${failed ? `, ${failed} host${failed === 1 ? '' : 's'} not done` : ''}`);
      if (failed) process.exitCode = 1;
    });
}
