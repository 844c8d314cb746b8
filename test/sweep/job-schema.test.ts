// sweep/job-schema.ts: everything that crosses Redis is parsed by one schema; a bad value is refused with
// one line naming the field (hostile keys shown as what they are). The attacks themselves:
// test/security/queue.test.ts.
import { expect } from 'chai';
import { check, isRunLoss, JobDataSchema, RunSpecSchema, runKey } from '../../sweep/job-schema.ts';

describe('sweep/job-schema', () => {
  const run = { key: 'ring8-ns-pack2-s3', data: 'ring8', loss: 'ns', seed: 3, pack: 2, iterations: 100 };

  it('a run spec is strict, and its key must be the one its fields make', () => {
    expect(runKey(run)).to.equal('ring8-ns-pack2-s3');
    expect(check(RunSpecSchema, run, 'job')).to.deep.equal(run);
    expect(() => check(RunSpecSchema, { ...run, key: '../../x' }, 'job 1')).to.throw("job 1: 'key': does not match the run it names");
    expect(() => check(RunSpecSchema, { ...run, data: '/etc' }, 'job 1')).to.throw("job 1: 'data': not a built-in data set");
    expect(() => check(RunSpecSchema, { ...run, generator: 'x.onnx' }, 'job 1')).to.throw("job 1: the whole value: Unrecognized key");
  });

  it('losses are registry names or fgan-<divergence>', () => {
    expect(['ns', 'wgan-gp', 'fgan-js'].every(isRunLoss)).to.equal(true);
    expect(['fgan', 'fgan-tv', 'rm -rf', ''].some(isRunLoss)).to.equal(false);
  });

  it("a job's sweep id and handoff names are checked; a hostile key is quoted as it is", () => {
    const job = { sweep: 'abcdef01', run };
    expect(check(JobDataSchema, job, 'job')).to.deep.equal(job);
    expect(() => check(JobDataSchema, { ...job, sweep: '../x' }, 'job 2')).to.throw("job 2: 'sweep': not a sweep id");
    expect(() => check(JobDataSchema, { ...job, handoff: { '../../pwned.sh': 'eA==' } }, 'job 3')).to.throw(`job 3: 'handoff["../../pwned.sh"]': not a file a run hands over`);
  });
});
