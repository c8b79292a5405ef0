// BullMQ's side of `herald bench dispatch`: enqueue N no-op jobs with addBulk from this process,
// process them with one Worker in a child process (one worker process, as Herald's side has),
// and print one JSON line: {"jobs", "enqueue_per_sec", "process_per_sec", "concurrency"}.
// Usage: node dispatch.mjs <redis-port> <jobs> <concurrency>
import { Queue, Worker } from 'bullmq';
import { fork } from 'node:child_process';

const [port, jobs, concurrency] = process.argv.slice(2).map(Number);
const connection = { host: '127.0.0.1', port };
const name = 'herald-bench';

if (process.env.BENCH_ROLE === 'worker') {
  let done = 0;
  let first = 0;
  const worker = new Worker(name, async () => {
    if (first === 0) first = performance.now();
    done += 1;
    if (done === jobs) {
      const elapsed = (performance.now() - first) / 1000;
      process.send({ elapsed });
    }
  }, { connection, concurrency, autorun: true });
  process.on('message', async () => { await worker.close(); process.exit(0); });
} else {
  const queue = new Queue(name, { connection });
  await queue.obliterate({ force: true }).catch(() => {});
  const child = fork(new URL(import.meta.url).pathname, process.argv.slice(2), { env: { ...process.env, BENCH_ROLE: 'worker' } });
  const finished = new Promise((resolve) => child.on('message', resolve));
  const started = performance.now();
  const chunk = 1000;
  for (let i = 0; i < jobs; i += chunk) {
    const batch = [];
    for (let j = i; j < Math.min(i + chunk, jobs); j += 1) batch.push({ name: 'noop', data: {}, opts: { removeOnComplete: true } });
    await queue.addBulk(batch);
  }
  const enqueued = (performance.now() - started) / 1000;
  const { elapsed } = await finished;
  const total = (performance.now() - started) / 1000;
  child.send('stop');
  await queue.close();
  console.log(JSON.stringify({ jobs, concurrency, enqueue_per_sec: jobs / enqueued, process_per_sec: jobs / elapsed, end_to_end_per_sec: jobs / total }));
  process.exit(0);
}
