import * as fs from 'node:fs';
import type { DemoCredentials, Environment } from '@schedstack/contracts';

/** What `.schedstack/credentials.json` holds (issue [1/8]). */
export interface CredentialsFile {
  readonly project_id: string;
  readonly owner: { readonly email: string; readonly password: string };
  readonly keys: Readonly<Record<Environment, string>>;
}

export function writeCredentials(file: string, demo: DemoCredentials): CredentialsFile {
  const credentials = { project_id: demo.project_id, owner: demo.owner, keys: demo.keys } as CredentialsFile;
  fs.writeFileSync(file, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 });
  return credentials;
}

/** A second start reuses the data: the secrets come from the file written by the first. */
export function readCredentials(file: string, demo: DemoCredentials): CredentialsFile {
  try {
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as CredentialsFile;
    if (stored.project_id === demo.project_id) return stored;
  } catch {
    // fall through: the file is gone or from another database
  }
  throw new Error(
    `The database already holds project ${demo.project_id}, but ${file} is missing or belongs to another project. ` +
      `Keys are stored only as hashes, so they cannot be shown again: delete the data folder to start afresh.`,
  );
}

export function printBanner(url: string, c: CredentialsFile, file: string): void {
  const lines = [
    '',
    `  SchedStack is ready  →  ${url}`,
    '',
    `  Console login   ${c.owner.email} / ${c.owner.password}`,
    `  Project         ${c.project_id}`,
    `  Live key        ${c.keys.live}`,
    `  Sandbox key     ${c.keys.sandbox}`,
    `  Test key        ${c.keys.test}`,
    '',
    `  Saved to ${file}. Try:`,
    `    curl -s ${url}/v1/schedules -H "Authorization: Bearer ${c.keys.test}" \\`,
    `      -d '{"endpoint":"https://example.com/hook","delay":"30s","body":"{\\"hello\\":\\"world\\"}"}'`,
    '',
    '  Press Ctrl-C to stop.',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
