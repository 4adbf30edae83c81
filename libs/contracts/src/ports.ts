import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';

// Loaded from its source by the benchmark (bench/profiles.js) too.

/**
 * A TCP port free right now on every interface, for a server about to start (the local profile's
 * PostgreSQL, a test's servers, the benchmark's product). Picked below the
 * kernel's range for outgoing connections' local ports: a port from that range (what `listen(0)`
 * hands out) can be taken by any connection opened on the machine before the server binds it — in
 * CI, by one of the other suites' connections while `npm start` was still creating its database.
 */
export async function freePort(): Promise<number> {
  const ephemeralLow = ephemeralPortsFrom();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (ephemeralLow - 10_000));
    if (await canListen(port)) return port;
  }
  return listenOn(0);
}

/** The low end of the kernel's range for outgoing connections' local ports (Linux), else the IANA one. */
function ephemeralPortsFrom(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return low > 11_000 ? low : 49_152;
  } catch {
    return 49_152;
  }
}

const canListen = (port: number): Promise<boolean> => listenOn(port).then(() => true, () => false);

/** Binds `port` on all interfaces (as the product's servers do), closes it, and answers the port bound. */
function listenOn(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, () => {
      const bound = (server.address() as AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}
