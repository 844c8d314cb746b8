// onnxruntime-node's providers as this project opens them.
import { expect } from 'chai';
import { nodeRuntime } from '../../runtime/node.ts';

describe('runtime/node', () => {
  it('--ep cuda without the CUDA libraries names them and the opt-in install', function () {
    let err: Error | null = null;
    try {
      nodeRuntime('cuda');
    } catch (e) {
      err = e as Error;
    }
    if (!err) this.skip(); // this machine has onnxruntime-node's CUDA binaries
    expect(err!.message).to.match(/libonnxruntime_providers_cuda\.so.*npm ci --onnxruntime-node-install=cuda12/);
  });
});
