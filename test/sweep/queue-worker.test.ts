// sweep/queue-worker.ts in process, on a real redis-server: a job that fails the schema is refused for
// good, naming the field, and the worker goes on; told to stop, it ends with its report. (Workers as
// processes, killed and stopped mid-run: test/sweep/queue.test.ts; attacks: test/security/queue.test.ts.)
import { expect } from 'chai';
import { Queue } from 'bullmq';
import { QUEUE_NAME, redisOptions } from '../../sweep/queue-access.ts';
import { runWorker } from '../../sweep/queue-worker.ts';
import { until } from '../helpers.ts';
import { queueSuite } from '../redis-server.ts';

describe('sweep/queue-worker', function () {
  this.timeout(120000);
  const q = queueSuite('onnx-gan-queue-worker-');

  it('refuses a job with a path for a sweep id, fails it for good, and stops when told', async () => {
    const log: string[] = [];
    let stop = false;
    const worker = runWorker({ queue: q.redis.url, concurrency: 1, lockSeconds: 2, stopSeconds: 10, log: (m) => void log.push(m), stopRequested: () => stop });
    const queue = new Queue(QUEUE_NAME, { connection: redisOptions(q.redis.url) });
    try {
      const run = { key: 'ring8-ns-s0', data: 'ring8', loss: 'ns', seed: 0, pack: 1, iterations: 10 };
      const job = await queue.add('run', { sweep: '../../etc', run }, { jobId: 'deadbeef.ring8-ns-s0', attempts: 3 });
      await until('the worker to refuse the job', () => log.some((l) => /refused/.test(l)), 60000);
      expect(log.find((l) => /refused/.test(l))).to.match(/^job deadbeef\.ring8-ns-s0 refused: .*'sweep': not a sweep id/);
      // Failed for good: no retry, though the job allows 3 attempts.
      let state = '';
      const poll = setInterval(() => void job.getState().then((s) => (state = s)), 100);
      await until('the job to fail', () => state === 'failed', 30000).finally(() => clearInterval(poll));
      expect((await queue.getJob(job.id!))!.attemptsMade).to.be.at.most(1);
      stop = true;
      expect(await worker).to.deep.equal({ completed: 0, handedBack: 0, refused: 1 });
    } finally {
      stop = true;
      await queue.close();
      await worker.catch(() => {});
    }
  });
});
