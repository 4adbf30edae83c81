// The benchmark's target: a keep-alive HTTP server in a process of its own (forked by bench/run.js),
// so its event loop and CPU are not the product's or the load generator's. For each request it
// records when its handler started (high-resolution wall clock), the scheduled instant carried in
// the path (`/<workload>/<scheduled-for ms>`) and the delivery id the dispatcher sends.
const http = require('node:http');
const { performance } = require('node:perf_hooks');

const now = () => performance.timeOrigin + performance.now();

/** [receivedAt, scheduledFor, deliveryId, attempt, workload] per request, handed over on `take`. */
let records = [];
/** When each connection was accepted: a sender opening connections mid-workload pays for it in lag. */
let connections = [];

const server = http.createServer((req, res) => {
  const receivedAt = now();
  const [, workload = '', scheduledFor = ''] = (req.url ?? '').split('?')[0].split('/');
  records.push([receivedAt, Number(scheduledFor), String(req.headers['sched-delivery-id'] ?? ''), Number(req.headers['sched-attempt'] ?? 1), workload]);
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  });
});
server.on('connection', () => connections.push(now()));
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;

server.listen(0, '127.0.0.1', () => {
  process.send({ type: 'ready', url: `http://127.0.0.1:${server.address().port}` });
});

process.on('message', (message) => {
  if (message.type === 'count') process.send({ type: 'count', count: records.length });
  if (message.type === 'take') {
    process.send({ type: 'records', records, connections });
    records = [];
    connections = [];
  }
  if (message.type === 'stop') {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
