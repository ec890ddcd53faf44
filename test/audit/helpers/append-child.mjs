// A separate Warden-like process for the concurrency and kill -9 tests: appends APPEND_COUNT
// call.received events and prints "ack <seq>" only once each append has resolved (is durable).
const { openAuditStore } = await import(process.env.WARDEN_AUDIT_MODULE);
const count = Number(process.env.APPEND_COUNT);
const session = process.env.APPEND_SESSION;
const store = await openAuditStore(process.env.APPEND_URL, { checkpointEvery: Number(process.env.APPEND_CHECKPOINT_EVERY) });
for (let i = 0; i < count; i++) {
  const record = await store.append({
    type: 'call.received',
    session_id: session,
    data: { call_id: `${session}-${i}`, i, kind: 'tool', server: 'ci', tool: 'run_tests', arguments: { n: i } },
  });
  process.stdout.write(`ack ${record.seq}\n`);
}
await store.close();
process.stdout.write('done\n');
