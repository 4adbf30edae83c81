import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from './ports';

describe('freePort', () => {
  it('answers a port a server can then listen on, outside the range outgoing connections take their local ports from', async () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    for (let i = 0; i < 5; i++) {
      const port = await freePort();
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(low);
      const server = createServer();
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, resolve));
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
