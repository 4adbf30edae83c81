// V8 flags every SchedStack process runs with (npm start, npm run start:distributed, the bench,
// and deploy/Dockerfile's NODE_OPTIONS — keep them equal). A 64 MB semi-space: with the default
// 16 MB, minor collections ran 6–8 times a second under 1,000 fires/s, 8–15 ms each, and each one
// holds the dispatcher's timers back; at 64 MB they took a third of the time (docs/decisions.md).
module.exports = { PRODUCT_NODE_FLAGS: ['--max-semi-space-size=64'] };
