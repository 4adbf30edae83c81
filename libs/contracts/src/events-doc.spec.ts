import * as fs from 'node:fs';
import * as path from 'node:path';
import { EVENT_CATALOG } from './events';

describe('docs/events.md', () => {
  const doc = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'docs', 'events.md'), 'utf8');

  it.each(Object.entries(EVENT_CATALOG))('documents %s with its data class', (type, entry) => {
    // A consumer relies on this page: every event type appears in its table with its data class.
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${type}\` |`));
    expect(row).toBeDefined();
    expect(row).toContain(`| ${entry.dataClass} |`);
  });
});
