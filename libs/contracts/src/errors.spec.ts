import { connect } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { isConnectionFailure } from './errors';

describe('isConnectionFailure (what the edges answer 503 instead of 500)', () => {
  const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

  it.each([
    ['a refused TCP connection', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['a connection reset mid-query', withCode('ECONNRESET')],
    ['a Unix socket with no server (its file removed when PostgreSQL stopped)', Object.assign(withCode('ENOENT', 'connect ENOENT /tmp/run/.s.PGSQL.5432'), { syscall: 'connect' })],
    ['PostgreSQL shutting down (57P01 admin_shutdown)', withCode('57P01', 'terminating connection due to administrator command')],
    ['PostgreSQL starting up (57P03 cannot_connect_now)', withCode('57P03', 'the database system is starting up')],
    ['a PostgreSQL connection exception (class 08)', withCode('08006')],
    ['node-postgres losing its connection', new Error('Connection terminated unexpectedly')],
    ['a pg-pool connect timeout', new Error('timeout exceeded when trying to connect')],
    ["Nest's NATS client while reconnecting (a string)", 'Error: Connection lost. Trying to reconnect...'],
    ['a closed nats.js connection', withCode('CONNECTION_CLOSED')],
    ['every address refused (AggregateError)', Object.assign(new AggregateError([withCode('ECONNREFUSED')], ''), { code: undefined })],
    ['a wrapped cause', new Error('query failed', { cause: withCode('ECONNREFUSED') })],
  ])('recognises %s', (_name, error) => {
    expect(isConnectionFailure(error)).toBe(true);
  });

  it('recognises the error Node gives for a Unix socket nobody listens on', async () => {
    const refused = await new Promise<Error>((resolve) => connect(path.join(os.tmpdir(), `no-such-dir-${process.pid}`, '.s.PGSQL.5432')).on('error', resolve));
    expect(isConnectionFailure(refused)).toBe(true);
  });

  it.each([
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a unique violation (23505)', withCode('23505', 'duplicate key value violates unique constraint')],
    ['a syntax error in SQL (42601)', withCode('42601')],
    ['a nats.js request TIMEOUT (the bus client answers that itself)', withCode('TIMEOUT')],
    ['a missing file (ENOENT from anything but connect)', Object.assign(withCode('ENOENT', "ENOENT: no such file or directory, open 'x'"), { syscall: 'open' })],
    ['a plain string', 'something else went wrong'],
    ['nothing', undefined],
  ])('does not take %s for an outage', (_name, error) => {
    expect(isConnectionFailure(error)).toBe(false);
  });
});
