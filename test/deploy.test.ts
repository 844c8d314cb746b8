// deploy/: the Kubernetes manifests and the container build file. Every onnx-gan command in a manifest
// must parse with this CLI's flags, the workers and the sweep must point at the Redis service the manifests
// define, and the image must hold every source folder the CLI imports.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { program } from '../cli/main.ts';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const K8S = join(ROOT, 'deploy', 'k8s');

type Doc = { kind: string; metadata: { name: string }; spec: Record<string, unknown> };
const docs: Doc[] = readdirSync(K8S)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .flatMap((f) => parseAllDocuments(readFileSync(join(K8S, f), 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${f}: ${d.errors[0].message}`);
    return d.toJS() as Doc;
  }));

type Container = { name: string; image: string; args?: string[] };
const containers = (d: Doc): Container[] => ((d.spec as { template?: { spec: { containers: Container[] } } }).template?.spec.containers ?? []);

/** Files a TypeScript module imports, followed through relative imports. */
function imported(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const m of readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'/gm)) imported(resolve(dirname(file), m[1]), seen);
  return seen;
}

describe('deploy files', () => {
  it('kustomization lists every manifest; each manifest parses', () => {
    const k = parseAllDocuments(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8'))[0].toJS() as { resources: string[] };
    expect(k.resources.slice().sort()).to.deep.equal(readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort());
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).to.include.members(['Deployment/onnx-gan-redis', 'Service/onnx-gan-redis', 'Deployment/onnx-gan-worker', 'Job/onnx-gan-sweep-pacgan']);
  });

  it("every onnx-gan container's arguments are a command and flags of this CLI, and its queue is the Redis service", () => {
    const cli = program();
    const service = docs.find((d) => d.kind === 'Service' && d.metadata.name === 'onnx-gan-redis')!;
    const port = (service.spec as { ports: { port: number }[] }).ports[0].port;
    const ours = docs.flatMap(containers).filter((c) => c.image.startsWith('onnx-gan'));
    expect(ours.map((c) => c.args![0]).sort()).to.deep.equal(['sweep', 'worker']);
    for (const c of ours) {
      const [name, ...args] = c.args!;
      const cmd = cli.commands.find((x) => x.name() === name)!;
      expect(cmd, name).to.not.equal(undefined);
      for (const a of args.filter((x) => x.startsWith('--'))) expect(cmd.options.map((o) => o.long), `${name} ${a}`).to.include(a);
      expect(args[args.indexOf('--queue') + 1]).to.equal(`redis://onnx-gan-redis:${port}`);
    }
  });

  it('Redis requires the Secret\'s password, every onnx-gan container reads it from there, and only they may reach Redis', () => {
    const k = parseAllDocuments(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8'))[0].toJS() as { secretGenerator: { name: string; files: string[] }[] };
    expect(k.secretGenerator).to.deep.equal([{ name: 'onnx-gan-redis', files: ['password=redis-password.txt'] }]);
    expect(readFileSync(join(ROOT, '.gitignore'), 'utf8')).to.include('deploy/k8s/redis-password.txt');
    type Env = { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };
    const fromSecret = (c: Container & { env?: Env[] }, name: string) => c.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
    const redis = containers(docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'onnx-gan-redis')!)[0] as Container & { env?: Env[]; command: string[] };
    expect(redis.command.join(' ')).to.match(/--requirepass "\$REDIS_PASSWORD"/);
    expect(fromSecret(redis, 'REDIS_PASSWORD')).to.deep.equal({ name: 'onnx-gan-redis', key: 'password' });
    for (const c of docs.flatMap(containers).filter((x) => x.image.startsWith('onnx-gan'))) expect(fromSecret(c, 'ONNX_GAN_REDIS_PASSWORD'), c.name).to.deep.equal({ name: 'onnx-gan-redis', key: 'password' });
    const policy = docs.find((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'onnx-gan-redis')!.spec as { podSelector: unknown; ingress: { from: { podSelector: { matchLabels: { app: string } } }[] }[] };
    expect(policy.podSelector).to.deep.equal({ matchLabels: { app: 'onnx-gan-redis' } });
    const admitted = policy.ingress.flatMap((i) => i.from.map((f) => f.podSelector.matchLabels.app));
    const labels = docs.filter((d) => containers(d).some((c) => c.image.startsWith('onnx-gan'))).map((d) => (d.spec as { template: { metadata: { labels: { app: string } } } }).template.metadata.labels.app);
    expect(admitted.sort()).to.deep.equal(labels.sort());
  });

  it('the Containerfile copies every source folder the CLI imports, and installs as the README does (npm ci)', () => {
    const file = readFileSync(join(ROOT, 'Containerfile'), 'utf8');
    const copied = new Set([...file.matchAll(/^COPY (\S+) /gm)].map((m) => m[1].replace(/^\.\//, '')));
    const folders = new Set([...imported(join(ROOT, 'cli', 'main.ts'))].map((f) => relative(ROOT, f).split('/')[0]));
    for (const f of folders) expect(copied, `COPY ${f}`).to.include(f);
    expect(copied).to.include('bin');
    expect(file).to.match(/^RUN npm ci\b/m);
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).to.match(/npm ci/);
  });
});
