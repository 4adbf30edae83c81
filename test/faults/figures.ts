import * as fs from 'node:fs';
import * as path from 'node:path';

const DIR = path.resolve(__dirname, '..', '..', 'tmp', 'faults');

/** Writes a fault suite's figures to `tmp/faults/<name>.json` (read by docs/reliability.md) and logs them. */
export function writeFigures(name: string, figures: Record<string, unknown>): void {
  fs.mkdirSync(DIR, { recursive: true });
  const text = JSON.stringify({ suite: name, recorded_at: new Date().toISOString(), ...figures }, null, 2);
  fs.writeFileSync(path.join(DIR, `${name}.json`), `${text}\n`);
  console.log(`${name}: ${text}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
