// run/json.ts: text that must be a JSON object is refused in one line naming where it came from.
import { expect } from 'chai';
import { jsonObject } from '../../run/json.ts';

describe('run/json', () => {
  it('returns the object; refuses bad JSON, arrays, null and scalars naming the source', () => {
    expect(jsonObject('{"a": [1, 2]}', 'x.json')).to.deep.equal({ a: [1, 2] });
    expect(() => jsonObject('{"a": ', 'run/config.json')).to.throw(/^run\/config\.json is not JSON: /);
    for (const t of ['[1]', 'null', '3', '"s"']) expect(() => jsonObject(t, 'job 7: handoff config.json'), t).to.throw('job 7: handoff config.json is not a JSON object');
  });
});
