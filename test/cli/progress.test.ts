// cli/progress.ts: without a terminal (a log file, CI, --json) there is no bar, and messages still come
// through, one per line.
import { expect } from 'chai';
import { progress } from '../../cli/progress.ts';

describe('cli/progress', () => {
  it('quiet or not on a terminal: updates draw nothing, say writes its line to stderr', () => {
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((s: string) => (written.push(String(s)), true)) as typeof process.stderr.write;
    try {
      for (const quiet of [true, false]) {
        const bar = progress('{bar} {value}/{total}', quiet);
        bar.update(1, 10, {});
        bar.say(`note ${quiet}`);
        bar.stop();
      }
    } finally {
      process.stderr.write = write;
    }
    // Mocha's stderr is not a terminal here, so neither call drew a bar.
    expect(process.stderr.isTTY ? written.filter((w) => w.startsWith('note')) : written).to.deep.equal(['note true\n', 'note false\n']);
  });
});
