/**
 * Versioned releases (k8s/releases/<build>/ = the prod overlay + k8s/components/worker-build):
 * each build gets worker workloads of its own, so a new build's workers start beside the old
 * build's, whose pinned runs finish there, while everything else is shared. Rendered with the
 * real kustomize and validated offline, for the shipped example and for a second build made the
 * way docs/deploy.md says (copy the folder, change the build id and the tag).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOOLS = join(REPO, 'infra', 'k8s-tools.sh');
const EXAMPLE = join(REPO, 'k8s', 'releases', 'example', 'kustomization.yaml');

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are checked field by field below */
type Obj = Record<string, any>;

let kustomize = '';
let scratch = '';
const builds = new Map<string, Obj[]>();

const render = (dir: string): Obj[] =>
  parseAllDocuments(execFileSync(kustomize, ['build', dir], { encoding: 'utf8' })).map((d) => d.toJS() as Obj).filter(Boolean);

/** A release folder for `build`, made from the example as docs/deploy.md says (its relative paths kept, through a symlinked k8s/). */
function release(build: string): string {
  const dir = join(scratch, 'releases', build);
  mkdirSync(dir, { recursive: true });
  const text = readFileSync(EXAMPLE, 'utf8').replace(/DIFFC_BUILD_ID=0\.1\.0/, `DIFFC_BUILD_ID=${build}`).replace(/newTag: 0\.1\.0/, `newTag: ${build}`);
  writeFileSync(join(dir, 'kustomization.yaml'), text.replaceAll('../../overlays/', '../../k8s/overlays/').replaceAll('../../components/', '../../k8s/components/'));
  return dir;
}

before(() => {
  const r = spawnSync('bash', [TOOLS, 'env'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the k8s tools are not installed (run: bash infra/k8s-tools.sh install, or npm run test:k8s): ${r.stderr}`);
  kustomize = /^KUSTOMIZE=(.*)$/m.exec(r.stdout)![1];
  scratch = mkdtempSync(join(tmpdir(), 'diffc-releases-'));
  symlinkSync(join(REPO, 'k8s'), join(scratch, 'k8s'));
  builds.set('0.1.0', render(dirname(EXAMPLE)));
  builds.set('0.2.0', render(release('0.2.0')));
});

after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const WORKERS = ['Deployment/diffc-io-worker', 'ScaledObject/diffc-io-worker', 'ScaledJob/diffc-gpu-worker'];
const id = (o: Obj) => `${o.kind}/${o.metadata.name}`;
const find = (objs: Obj[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is rendered`);
  return o;
};
const podTemplate = (o: Obj) => (o.kind === 'ScaledJob' ? o.spec.jobTargetRef.template : o.spec.template);

test('the example release validates offline against the Kubernetes and CRD schemas', () => {
  const r = spawnSync('bash', [TOOLS, 'validate', '-'], { input: builds.get('0.1.0')!.map((o) => stringify(o)).join('---\n'), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /: \d+ objects, 0 errors/);
});

for (const build of ['0.1.0', '0.2.0']) {
  test(`build ${build}: its workers are named and labelled by build, read the build id, and run its image`, () => {
    const objs = builds.get(build)!;
    const cm = find(objs, 'ConfigMap', 'diffc-build');
    assert.deepEqual(cm.data, { DIFFC_DEPLOYMENT_NAME: 'diffc', DIFFC_BUILD_ID: build });
    for (const w of WORKERS) {
      const [kind, name] = w.split('/');
      const o = find(objs, kind, `${name}-${build}`);
      assert.equal(o.metadata.labels['diffc.io/build'], build, `${w} is labelled`);
      if (kind === 'ScaledObject') {
        assert.equal(o.spec.scaleTargetRef.name, `diffc-io-worker-${build}`, 'the io autoscaler scales its own build\'s Deployment');
        continue;
      }
      const pod = podTemplate(o);
      assert.equal(pod.metadata.labels['diffc.io/build'], build);
      const c = pod.spec.containers[0];
      assert.equal(c.image, `ghcr.io/diffc/diffc-worker:${build}`, 'the build id is the image it runs');
      assert.ok(c.envFrom.some((e: Obj) => e.configMapRef?.name === 'diffc-build'), `${w}'s worker reads DIFFC_BUILD_ID`);
      if (kind === 'Deployment') assert.equal(o.spec.selector.matchLabels['diffc.io/build'], build, 'the selector is the build\'s');
    }
    assert.ok(!objs.some((o) => WORKERS.includes(id(o))), 'no unversioned worker workload is left');
  });
}

test('two builds side by side: worker workloads never collide or claim each other\'s pods; everything else is one shared object', () => {
  const a = builds.get('0.1.0')!, b = builds.get('0.2.0')!;
  const workerIds = (objs: Obj[]) => objs.filter((o) => /^diffc-(io|gpu)-worker-/.test(o.metadata.name) && o.kind !== 'PodDisruptionBudget').map(id).sort();
  const wa = workerIds(a), wb = workerIds(b);
  assert.equal(wa.length, 3);
  assert.deepEqual(wa.filter((x) => wb.includes(x)), [], 'no worker object name is shared');
  const ioA = find(a, 'Deployment', 'diffc-io-worker-0.1.0'), ioB = find(b, 'Deployment', 'diffc-io-worker-0.2.0');
  const selects = (sel: Record<string, string>, labels: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);
  assert.ok(!selects(ioA.spec.selector.matchLabels, ioB.spec.template.metadata.labels), 'A\'s Deployment does not select B\'s pods');
  assert.ok(!selects(ioB.spec.selector.matchLabels, ioA.spec.template.metadata.labels), 'B\'s Deployment does not select A\'s pods');
  const shared = (objs: Obj[]) => objs.filter((o) => !/^diffc-(io|gpu)-worker-/.test(o.metadata.name)).map(id).sort();
  assert.deepEqual(shared(a), shared(b), 'the same shared objects (applying B updates them in place)');
  // Both builds' worker pods are scraped by the one metrics Service and covered by the io PDB.
  const svc = find(a, 'Service', 'diffc-worker-metrics');
  for (const pod of [ioA, ioB, find(b, 'ScaledJob', 'diffc-gpu-worker-0.2.0')].map(podTemplate)) assert.ok(selects(svc.spec.selector, pod.metadata.labels));
  const pdb = find(b, 'PodDisruptionBudget', 'diffc-io-worker');
  assert.ok(selects(pdb.spec.selector.matchLabels, ioA.spec.template.metadata.labels) && selects(pdb.spec.selector.matchLabels, ioB.spec.template.metadata.labels));
});
