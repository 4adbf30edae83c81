import { createServer, type Server } from 'node:http';
import { register } from 'prom-client';

/**
 * Services without an HTTP API expose their Prometheus metrics on their own port (METRICS_PORT),
 * so every dispatcher replica can be scraped; the gateway serves them on its API port instead.
 */
export async function startMetricsServer(port: number, host = '0.0.0.0'): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    register.metrics().then(
      (body) => res.writeHead(200, { 'content-type': register.contentType }).end(body),
      (error: Error) => res.writeHead(500).end(error.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}
