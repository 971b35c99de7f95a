// Renders demo-output/index.html again from the records a demo run saved:
//
//   npx tsx demo/render.ts [demo-output/record.json] [out.html]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { renderPage, type DemoRecord } from './html.js';

const input = resolve(process.argv[2] ?? 'demo-output/record.json');
const output = resolve(process.argv[3] ?? join(dirname(input), 'index.html'));
const record = JSON.parse(readFileSync(input, 'utf8')) as DemoRecord;
writeFileSync(output, renderPage(record));
console.log(output);
