// A separate Warden-like process for the concurrency and kill -9 tests: appends APPEND_COUNT
// call.received events (built with the record model's constructor) and prints "ack <seq>" only
// once each append has resolved (is durable).
const { callReceived, openAuditStore } = await import(process.env.WARDEN_AUDIT_MODULE);
const count = Number(process.env.APPEND_COUNT);
const session = process.env.APPEND_SESSION;
const store = await openAuditStore(process.env.APPEND_URL, {
  checkpointEvery: Number(process.env.APPEND_CHECKPOINT_EVERY),
});
for (let i = 0; i < count; i++) {
  const record = await store.append(
    callReceived(session, {
      call_id: `${session}-${i}`,
      kind: 'tool',
      server: 'ci',
      tool: 'run_tests',
      name: 'run_tests',
      arguments: { n: i },
      annotations: {},
      now_ms: Date.now(),
    }),
  );
  process.stdout.write(`ack ${record.seq}\n`);
}
await store.close();
process.stdout.write('done\n');
