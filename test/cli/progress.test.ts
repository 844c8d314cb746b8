// cli/progress.ts: without a terminal (a log file, CI, `kubectl logs`) progress is a plain line every few
// seconds with an ETA; under --json nothing but messages.
import { expect } from 'chai';
import { duration, progress } from '../../cli/progress.ts';

function sink() {
  const lines: string[] = [];
  return { lines, out: { isTTY: false, write: (s: string) => void lines.push(s) } };
}

describe('cli/progress', () => {
  it('not a terminal: a line every `every` seconds and at the end, with the rate-based ETA', () => {
    const { lines, out } = sink();
    let now = 0;
    const bar = progress('train [{bar}] {value}/{total} it | loss {loss}', false, { out, every: 30, clock: () => now });
    bar.update(100, 1100, { loss: '0.5' }); // where it starts (a resumed run) and when
    now = 10_000;
    bar.update(200, 1100, { loss: '0.4' }); // too soon for a line
    now = 40_000;
    bar.update(400, 1100, { loss: '0.3' }); // 300 it in 40 s: 700 left take 93 s
    bar.say('a message');
    now = 130_000;
    bar.update(1100, 1100, { loss: '0.2' });
    expect(lines).to.deep.equal(['train 400/1100 it | loss 0.3 | ETA 1m33s\n', 'a message\n', 'train 1100/1100 it | loss 0.2 | ETA 0s\n']);
  });

  it('quiet (--json): updates write nothing, messages still do', () => {
    const { lines, out } = sink();
    let now = 0;
    const bar = progress('x {value}/{total}', true, { out, every: 1, clock: () => now });
    bar.update(1, 10, {});
    now = 5000;
    bar.update(10, 10, {});
    bar.say('note');
    expect(lines).to.deep.equal(['note\n']);
  });

  it('formats durations for people', () => {
    expect([duration(7.4), duration(75), duration(4000), duration(Infinity)]).to.deep.equal(['7s', '1m15s', '1h06m', '?']);
  });
});
