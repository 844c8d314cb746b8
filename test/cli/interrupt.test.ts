// cli/interrupt.ts: a first SIGINT or SIGTERM is a request the run loop honours at its next block, said
// once; the command's listeners go when it is done. (A real Ctrl-C mid-run: test/run/lineage.test.ts.)
import { expect } from 'chai';
import { Interrupted, stopOnSignals } from '../../cli/interrupt.ts';

describe('cli/interrupt', () => {
  it('a signal sets the stop flag and says what happens next; dispose removes the listeners', () => {
    const before = process.listenerCount('SIGTERM');
    const said: string[] = [];
    const stop = stopOnSignals((m) => void said.push(m));
    try {
      expect(process.listenerCount('SIGTERM')).to.equal(before + 1);
      expect(stop.requested()).to.equal(false);
      process.emit('SIGTERM', 'SIGTERM');
      expect(stop.requested()).to.equal(true);
      expect(said).to.deep.equal(['SIGTERM: finishing the step in flight and saving a checkpoint (SIGTERM again quits at once)']);
    } finally {
      stop.dispose();
    }
    expect(process.listenerCount('SIGTERM')).to.equal(before);
    expect(new Interrupted('x').exitCode).to.equal(130);
  });
});
