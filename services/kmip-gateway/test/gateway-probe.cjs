// Loaded with `node --expose-gc --require` into a kmip-gateway process under
// test (gateway-process.ts): answers {type:'mem'} over the fork IPC channel
// with process.memoryUsage() after a full garbage collection, so a test can
// compare the gateway's live heap before and after, not its garbage.
process.on('message', (m) => {
  if (!m || m.type !== 'mem') return;
  if (typeof global.gc === 'function') {
    // Twice: the first collection can leave objects whose finalizers free more.
    global.gc();
    global.gc();
  }
  process.send({ type: 'mem', mem: process.memoryUsage() });
});
// The channel must not keep a gateway alive that is told to stop.
process.channel?.unref();
