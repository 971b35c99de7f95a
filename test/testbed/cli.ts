// Testbed command line, for the demo and the benchmark:
//   npx tsx test/testbed/cli.ts system                       # start dockerd, registry, images
//   npx tsx test/testbed/cli.ts up --name demo --hosts 10 [--initial-tag v15.38.0] [--concurrency 6] [--json]
//   npx tsx test/testbed/cli.ts show --name demo [--json]
//   npx tsx test/testbed/cli.ts fleet --name demo [--out DIR] [--tag v15.40.1]
//   npx tsx test/testbed/cli.ts list
//   npx tsx test/testbed/cli.ts down --name demo | --all
import { Command, InvalidArgumentError } from 'commander';
import {
  ensureSystem, fleetFor, listTestbeds, openTestbed, startTestbed, stopAllTestbeds, stopTestbedByName, TAGS, type Testbed,
} from './index.js';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

function describe(tb: Testbed, json: boolean): string {
  if (json) {
    const { name, hosts, registry, imageRepo, privateKeyPath, knownHostsPath, dir } = tb;
    return JSON.stringify({ name, dir, registry, imageRepo, privateKeyPath, knownHostsPath, tags: TAGS, hosts }, null, 2);
  }
  const lines = [
    `testbed ${tb.name} (${tb.hosts.length} hosts) in ${tb.dir}`,
    `private key: ${tb.privateKeyPath}   known_hosts: ${tb.knownHostsPath}`,
    `registry: ${tb.registry}   images: ${tb.imageRepo}:{${[...TAGS.good, TAGS.unhealthy, TAGS.migrateFails, TAGS.badBackup, TAGS.slowMigrate].join(',')}}`,
  ];
  for (const h of tb.hosts) {
    lines.push(`${h.id}  ssh -i ${tb.privateKeyPath} -o UserKnownHostsFile=${tb.knownHostsPath} ${h.user}@${h.address}   ${h.composeDir}   ${h.healthUrl} (Host: ${h.site})   ${h.initialTag}`);
  }
  return lines.join('\n');
}

const program = new Command('testbed').description('simulated ERPNext customer hosts for fleetkeeper e2e tests').showHelpAfterError();

program
  .command('system')
  .description('start dockerd, the registry on 127.0.0.1:5000 and push the stand-in images (idempotent)')
  .action(async () => {
    await ensureSystem();
  });

program
  .command('up')
  .description('bring up a testbed of N hosts (replaces an existing one of the same name)')
  .requiredOption('--name <name>', 'testbed name ([a-z0-9-], unique per concurrent user)')
  .requiredOption('--hosts <n>', 'number of hosts (1..250)', int)
  .option('--initial-tag <tag>', 'tag every host starts at', TAGS.initial)
  .option('--concurrency <n>', 'hosts brought up at once', int, 6)
  .option('--json', 'print the testbed as JSON')
  .action(async (o: { name: string; hosts: number; initialTag: string; concurrency: number; json?: boolean }) => {
    const t0 = Date.now();
    const tb = await startTestbed({
      name: o.name, hosts: o.hosts, initialTag: o.initialTag, concurrency: o.concurrency, keep: true,
      log: (l) => process.stderr.write(`${l}\n`),
    });
    process.stderr.write(`testbed ${o.name}: ${o.hosts} hosts up in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    process.stdout.write(describe(tb, !!o.json) + '\n');
  });

program
  .command('show')
  .requiredOption('--name <name>')
  .option('--json')
  .action(async (o: { name: string; json?: boolean }) => {
    process.stdout.write(describe(await openTestbed(o.name), !!o.json) + '\n');
  });

program
  .command('fleet')
  .description('write a fleet repo (defaults.yml, rings/, customers/) describing the testbed hosts')
  .requiredOption('--name <name>')
  .option('--out <dir>', 'where to write (default <testbed dir>/fleet)')
  .option('--tag <tag>', 'desired tag for every customer (default each host\'s initial tag)')
  .action(async (o: { name: string; out?: string; tag?: string }) => {
    const tb = await openTestbed(o.name);
    const tags = o.tag ? Object.fromEntries(tb.hosts.map((h) => [h.id, o.tag!])) : undefined;
    const f = await fleetFor(tb, { dir: o.out, tags });
    process.stdout.write(`${f.dir}\n`);
    for (const [ring, ids] of Object.entries(f.rings)) process.stderr.write(`${ring}: ${ids.length} customer(s)\n`);
  });

program.command('list').action(async () => {
  for (const n of await listTestbeds()) process.stdout.write(`${n}\n`);
});

program
  .command('down')
  .description('tear a testbed down (containers, networks, volumes, sshds, directories)')
  .option('--name <name>')
  .option('--all', 'every testbed on this machine')
  .action(async (o: { name?: string; all?: boolean }) => {
    if (o.all) {
      const names = await stopAllTestbeds();
      process.stderr.write(`stopped ${names.length} testbed(s)${names.length ? ': ' + names.join(', ') : ''}\n`);
    } else if (o.name) {
      await stopTestbedByName(o.name);
      process.stderr.write(`stopped testbed ${o.name}\n`);
    } else {
      program.error('down needs --name NAME or --all');
    }
  });

await program.parseAsync(process.argv);
