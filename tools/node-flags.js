// V8 flags every SchedStack process runs with (npm start, npm run start:distributed, the bench,
// and deploy/Dockerfile's command — keep them equal; docs/decisions.md says why).
// - A 64 MB semi-space: with the default 16 MB, minor collections ran 6–8 times a second under
//   1,000 fires/s, 8–15 ms each, and each one holds the dispatcher's timers back; at 64 MB they
//   took a third of the time.
// - No bytecode flushing: V8 drops the bytecode of functions idle for a few collections, and the
//   collections of a quiet spell age it fast, so the first burst after one (a cron's top of the
//   hour) compiled the fire path again while its fires were due.
// Node refuses the second in NODE_OPTIONS, so the image passes them on its command line.
module.exports = { PRODUCT_NODE_FLAGS: ['--max-semi-space-size=64', '--no-flush-bytecode'] };
