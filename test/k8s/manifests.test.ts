/**
 * The Kubernetes deployment (k8s/), checked without a cluster: every overlay is rendered with the
 * real kustomize, every object validated offline against the Kubernetes and CRD schemas
 * (infra/k8s-tools.sh), and the properties docs/deploy.md promises are asserted on the rendered
 * objects. Run by `npm run test:k8s`, which installs the pinned tools first; this file is outside
 * the `npm test` glob and fails (never skips) when the tools are missing.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import { DEFAULT_GRACE_SECONDS } from '../../src/cli/worker.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOOLS = join(REPO, 'infra', 'k8s-tools.sh');
const OVERLAYS = readdirSync(join(REPO, 'k8s', 'overlays')).sort();

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are checked field by field below */
type Obj = Record<string, any>;

interface Report { objects: number; valid: number; kinds: Record<string, number>; errors: { object: string; error: string }[] }

let env: Record<string, string>;
const rendered = new Map<string, Obj[]>();

function toolEnv(): Record<string, string> {
  const r = spawnSync('bash', [TOOLS, 'env'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the k8s tools are not installed (run: bash infra/k8s-tools.sh install, or npm run test:k8s): ${r.stderr}`);
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

function render(overlay: string): Obj[] {
  const text = execFileSync(env.KUSTOMIZE, ['build', join(REPO, 'k8s', 'overlays', overlay)], { encoding: 'utf8' });
  return parseAllDocuments(text).map((d) => d.toJS() as Obj).filter(Boolean);
}

/** Runs the offline validator on objects; the report, whatever the exit code. */
function validate(objs: Obj[], name = 'test'): Report & { status: number | null; stderr: string } {
  const r = spawnSync(env.K8S_PYTHON, [env.K8S_VALIDATOR, 'validate', '--k8s-version', env.K8S_VERSION, '--crds', env.K8S_CRDS, '--name', name, '--json', '-'], {
    input: objs.map((o) => stringify(o)).join('---\n'), encoding: 'utf8',
  });
  return { ...(JSON.parse(r.stdout) as Report), status: r.status, stderr: r.stderr };
}

before(() => {
  env = toolEnv();
  for (const o of OVERLAYS) rendered.set(o, render(o));
});

const ofKind = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
const named = (objs: Obj[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is rendered`);
  return o;
};
/** A Deployment's pod template, or a ScaledJob's (the Jobs KEDA starts). */
const template = (d: Obj): Obj => (d.kind === 'ScaledJob' ? d.spec.jobTargetRef.template : d.spec.template);
const podSpec = (d: Obj): Obj => template(d).spec;
/** Everything that runs diffc pods continuously: Deployments and the gpu ScaledJob. */
const workloads = (objs: Obj[]): Obj[] => objs.filter((o) => o.kind === 'Deployment' || o.kind === 'ScaledJob');
/** Every container running `diffc worker`, in every workload. */
const workerPods = (objs: Obj[]): Obj[] => workloads(objs).filter((d) => podSpec(d).containers.some((c: Obj) => c.args?.[0] === 'worker'));
const allContainers = (d: Obj): Obj[] => [...(podSpec(d).initContainers ?? []), ...podSpec(d).containers];
const mainContainer = (d: Obj): Obj => podSpec(d).containers[0];
const configValue = (objs: Obj[], key: string): string | undefined => ofKind(objs, 'ConfigMap').map((c) => c.data?.[key]).find((v) => v !== undefined);
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The Secrets the deployment expects to exist (created by hand, docs/deploy.md). */
const SECRETS = ['diffc-s3', 'diffc-trigger', 'diffc-temporal-tls'];

test('the overlays are dev and prod', () => {
  assert.deepEqual(OVERLAYS, ['dev', 'prod']);
});

for (const overlay of OVERLAYS) {
  describe(`overlay ${overlay}`, () => {
    const objs = () => rendered.get(overlay)!;
    const gpu = () => named(objs(), 'ScaledJob', 'diffc-gpu-worker');
    const io = () => named(objs(), 'Deployment', 'diffc-io-worker');
    const trigger = () => named(objs(), 'Deployment', 'diffc-trigger');

    test('every object validates against the Kubernetes and CRD schemas (offline)', () => {
      const r = validate(objs(), overlay);
      assert.deepEqual(r.errors, [], r.stderr);
      assert.equal(r.status, 0);
      assert.equal(r.objects, objs().length);
      assert.ok(r.objects >= 15, `${r.objects} objects`);
      for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget', 'ScaledObject', 'ScaledJob', 'ServiceMonitor', 'ConfigMap', 'ServiceAccount']) assert.ok(r.kinds[kind], `${kind} validated`);
    });

    test('GPU worker: task queue gpu, nvidia.com/gpu limits, GPU node affinity and tolerations', () => {
      const d = gpu(), c = mainContainer(d);
      assert.deepEqual(c.args.slice(0, 3), ['worker', '--queues', 'gpu']);
      assert.ok(Number(c.resources.limits['nvidia.com/gpu']) >= 1, 'nvidia.com/gpu limit');
      assert.equal(String(c.resources.requests['nvidia.com/gpu']), String(c.resources.limits['nvidia.com/gpu']));
      assert.ok(c.resources.requests.memory && c.resources.requests.cpu && c.resources.limits.memory, 'CPU and memory sized');
      const terms = podSpec(d).affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
      assert.ok(terms.every((t: Obj) => t.matchExpressions.some((e: Obj) => e.key === 'nvidia.com/gpu.present')), 'required GPU node affinity');
      assert.ok(podSpec(d).tolerations.some((t: Obj) => t.key === 'nvidia.com/gpu' && t.effect === 'NoSchedule'), 'GPU taint tolerated');
      assert.equal(c.env.find((e: Obj) => e.name === 'DIFFC_DEVICE')?.value, 'cuda');
    });

    test('work-gc CronJob: diffc work gc over the output store, one at a time, no GPU, S3 keys by reference', () => {
      const cj = named(objs(), 'CronJob', 'diffc-work-gc');
      assert.equal(cj.spec.concurrencyPolicy, 'Forbid');
      const pod = cj.spec.jobTemplate.spec.template.spec, c = pod.containers[0];
      assert.deepEqual(c.args, ['work', 'gc', '$(DIFFC_WORK_STORE)', '--json']);
      assert.match(configValue(objs(), 'DIFFC_WORK_STORE') ?? '', /^s3:\/\/[^/]+/, 'DIFFC_WORK_STORE names the output store');
      assert.equal(JSON.stringify(c.resources).includes('nvidia.com/gpu'), false);
      assert.equal(pod.restartPolicy, 'Never');
      for (const e of c.env) assert.ok(e.valueFrom?.secretKeyRef?.name === 'diffc-s3', `${e.name} comes from the diffc-s3 Secret`);
    });

    test('I/O worker and trigger: task queue io, CPU only', () => {
      const c = mainContainer(io());
      assert.deepEqual(c.args.slice(0, 3), ['worker', '--queues', 'io']);
      for (const d of [io(), trigger()]) {
        for (const k of allContainers(d)) assert.equal(JSON.stringify(k.resources ?? {}).includes('nvidia.com/gpu'), false, `${d.metadata.name} asks for no GPU`);
        assert.equal(podSpec(d).tolerations, undefined);
      }
      assert.deepEqual(mainContainer(trigger()).args, ['trigger', 'serve', '--port', '8080']);
    });

    test('probes: liveness on /healthz, readiness on /readyz (models loaded) for workers', () => {
      for (const d of workloads(objs())) {
        for (const c of podSpec(d).containers) {
          assert.ok(c.livenessProbe, `${d.metadata.name}/${c.name} liveness`);
          assert.ok(c.readinessProbe, `${d.metadata.name}/${c.name} readiness`);
        }
      }
      for (const d of [gpu(), io()]) {
        const c = mainContainer(d);
        const port = c.args[c.args.indexOf('--health-port') + 1];
        assert.equal(String(c.ports.find((p: Obj) => p.name === 'metrics').containerPort), port);
        assert.equal(c.readinessProbe.httpGet.path, '/readyz');
        assert.equal(c.livenessProbe.httpGet.path, '/healthz');
        assert.equal(c.readinessProbe.httpGet.port, 'metrics');
      }
    });

    test('grace period covers a checkpoint interval plus margin', () => {
      const interval = Number(configValue(objs(), 'DIFFC_CHECKPOINT_SECONDS') ?? 60);
      assert.ok(interval > 0);
      assert.ok(podSpec(gpu()).terminationGracePeriodSeconds >= interval + 60, `gpu grace ${podSpec(gpu()).terminationGracePeriodSeconds} >= ${interval} + 60`);
      assert.ok(podSpec(io()).terminationGracePeriodSeconds >= interval, 'io grace >= one checkpoint interval');
    });

    test("every worker's own shutdown grace (--grace, else the CLI default) ends before its pod's, with room to checkpoint", () => {
      const interval = Number(configValue(objs(), 'DIFFC_CHECKPOINT_SECONDS') ?? 60);
      const pods = workerPods(objs());
      assert.deepEqual(pods.map((d) => d.metadata.name).sort(), ['diffc-gpu-worker', 'diffc-io-worker']);
      for (const d of pods) {
        for (const c of podSpec(d).containers.filter((k: Obj) => k.args?.[0] === 'worker')) {
          const args: string[] = c.args;
          const i = args.indexOf('--grace');
          const sdk = i >= 0 ? Number(args[i + 1]) : DEFAULT_GRACE_SECONDS;
          const pod = podSpec(d).terminationGracePeriodSeconds ?? 30;
          assert.ok(sdk > 0 && sdk < pod, `${d.metadata.name}: --grace ${sdk} < terminationGracePeriodSeconds ${pod}`);
          // Time for the process to exit after the SDK gives up (connection close, logs).
          assert.ok(sdk + 20 <= pod, `${d.metadata.name}: --grace ${sdk} + 20 s to exit <= terminationGracePeriodSeconds ${pod}`);
          // A step range notices the drain at its next step and checkpoints within one interval.
          if (args[args.indexOf('--queues') + 1]?.includes('gpu')) assert.ok(sdk >= interval + 30, `${d.metadata.name}: --grace ${sdk} >= checkpoint interval ${interval} + 30`);
        }
      }
    });

    test('no inline secrets: no Secret objects; credentials only through secretKeyRef to the documented Secrets', () => {
      assert.deepEqual(ofKind(objs(), 'Secret'), []);
      const secretish = /SECRET|PASSWORD|TOKEN|ACCESS_KEY|API_KEY|PRIVATE/;
      for (const d of workloads(objs())) {
        for (const c of allContainers(d)) {
          for (const e of c.env ?? []) {
            if (secretish.test(e.name)) assert.ok(e.valueFrom?.secretKeyRef, `${d.metadata.name}/${c.name} ${e.name} comes from a Secret`);
            if (e.valueFrom?.secretKeyRef) assert.ok(SECRETS.includes(e.valueFrom.secretKeyRef.name), `${e.valueFrom.secretKeyRef.name} is a documented Secret`);
          }
        }
        for (const v of podSpec(d).volumes ?? []) if (v.secret) assert.ok(SECRETS.includes(v.secret.secretName), `${v.secret.secretName} is a documented Secret`);
      }
      for (const cm of ofKind(objs(), 'ConfigMap')) {
        for (const [k, v] of Object.entries(cm.data ?? {})) {
          if (secretish.test(k) || /KEY$/.test(k)) assert.match(String(v), /^\//, `ConfigMap ${cm.metadata.name} ${k} is at most a file path`);
        }
      }
      for (const ta of ofKind(objs(), 'TriggerAuthentication')) {
        for (const r of ta.spec.secretTargetRef) assert.ok(SECRETS.includes(r.name));
      }
      const docs = readFileSync(join(REPO, 'docs', 'deploy.md'), 'utf8');
      for (const s of SECRETS) assert.match(docs, new RegExp(`kubectl[^\\n]*create secret[^\\n]*${s}`), `docs/deploy.md creates ${s}`);
    });

    test('images are pinned by tag or digest, never latest, and the kustomize image name is replaced', () => {
      for (const d of workloads(objs())) {
        for (const c of allContainers(d)) {
          const m = /^([^@]+?)(?::([\w][\w.-]*))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(c.image);
          assert.ok(m, `${c.image} parses`);
          assert.ok(m[3] || (m[2] && m[2] !== 'latest'), `${d.metadata.name}/${c.name}: ${c.image} is pinned`);
          assert.ok(m[1].includes('/'), `${c.image} names a registry/repository`);
          assert.notEqual(c.imagePullPolicy, 'Always');
        }
      }
    });

    test('every Deployment is covered by a PodDisruptionBudget', () => {
      const pdbs = ofKind(objs(), 'PodDisruptionBudget');
      for (const d of ofKind(objs(), 'Deployment')) {
        const labels = d.spec.template.metadata.labels;
        const cover = pdbs.filter((p) => p.metadata.namespace === d.metadata.namespace && matches(p.spec.selector.matchLabels, labels));
        assert.equal(cover.length, 1, `${d.metadata.name} has exactly one PDB`);
        const replicas = d.spec.replicas ?? 1;
        if (cover[0].spec.minAvailable !== undefined) assert.ok(Number(cover[0].spec.minAvailable) < replicas, `${d.metadata.name}: the PDB leaves room to drain`);
      }
    });

    test('pods run as non-root with a read-only root filesystem, no token, no privilege escalation', () => {
      const ns = named(objs(), 'Namespace', 'diffc');
      assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
      for (const d of workloads(objs())) {
        const s = podSpec(d);
        assert.equal(s.automountServiceAccountToken, false, d.metadata.name);
        assert.equal(s.securityContext.runAsNonRoot, true, d.metadata.name);
        assert.ok(s.securityContext.runAsUser > 0);
        assert.equal(s.securityContext.seccompProfile.type, 'RuntimeDefault');
        for (const v of s.volumes ?? []) assert.equal(v.hostPath, undefined, `${d.metadata.name} mounts no hostPath`);
        for (const c of allContainers(d)) {
          const sc = c.securityContext;
          assert.equal(sc.readOnlyRootFilesystem, true, `${d.metadata.name}/${c.name}`);
          assert.equal(sc.allowPrivilegeEscalation, false);
          assert.deepEqual(sc.capabilities.drop, ['ALL']);
          assert.equal(sc.capabilities.add, undefined);
          assert.notEqual(sc.runAsUser, 0);
          assert.ok(c.resources?.limits?.memory, `${d.metadata.name}/${c.name} has a memory limit`);
        }
      }
      const diffcPods = workloads(objs()).filter((d) => d.metadata.name.startsWith('diffc-'));
      // The trigger has an account of its own, so a cloud identity for S3 on `diffc` never reaches it.
      for (const d of diffcPods) assert.equal(podSpec(d).serviceAccountName, d.metadata.name === 'diffc-trigger' ? 'diffc-trigger' : 'diffc');
      // Least privilege: the accounts are bound to nothing.
      assert.deepEqual(objs().filter((o) => /Role|RoleBinding/.test(o.kind)), []);
      for (const sa of ['diffc', 'diffc-trigger']) assert.equal(named(objs(), 'ServiceAccount', sa).automountServiceAccountToken, false);
      assert.deepEqual(named(objs(), 'ServiceAccount', 'diffc-trigger').metadata.annotations ?? {}, {}, 'no identity annotated onto the trigger');
    });

    test('every referenced ConfigMap, PVC and Service target exists in the overlay', () => {
      const cms = new Set(ofKind(objs(), 'ConfigMap').map((c) => c.metadata.name));
      const pvcs = new Set(ofKind(objs(), 'PersistentVolumeClaim').map((c) => c.metadata.name));
      for (const d of workloads(objs())) {
        for (const c of allContainers(d)) for (const e of c.envFrom ?? []) if (e.configMapRef && !e.configMapRef.optional) assert.ok(cms.has(e.configMapRef.name), `${e.configMapRef.name} exists`);
        for (const c of allContainers(d)) {
          for (const e of c.env ?? []) {
            const ref = e.valueFrom?.configMapKeyRef;
            if (!ref) continue;
            const cm = ofKind(objs(), 'ConfigMap').find((x) => x.metadata.name === ref.name);
            assert.ok(cm, `${d.metadata.name}/${c.name} ${e.name}: ConfigMap ${ref.name} exists`);
            if (!ref.optional) assert.ok(cm.data?.[ref.key] !== undefined, `${d.metadata.name}/${c.name} ${e.name}: ${ref.name} has ${ref.key}`);
          }
        }
        for (const v of podSpec(d).volumes ?? []) if (v.persistentVolumeClaim) assert.ok(pvcs.has(v.persistentVolumeClaim.claimName));
      }
      for (const s of ofKind(objs(), 'Service')) {
        const pods = ofKind(objs(), 'Deployment').filter((d) => matches(s.spec.selector, d.spec.template.metadata.labels));
        assert.ok(pods.length > 0, `Service ${s.metadata.name} selects pods`);
        for (const p of s.spec.ports) {
          if (typeof p.targetPort === 'string') assert.ok(pods.every((d) => d.spec.template.spec.containers.some((c: Obj) => c.ports?.some((q: Obj) => q.name === p.targetPort))), `${s.metadata.name} port ${p.targetPort}`);
        }
      }
      const svc = named(objs(), 'Service', 'diffc-trigger');
      assert.ok(matches(svc.spec.selector, trigger().spec.template.metadata.labels));
    });

    test('trigger: only what `trigger serve` reads (Temporal, its settings and secret, the model id); no S3 settings or keys', () => {
      const d = trigger(), c = mainContainer(d);
      const cmData = (name: string): Record<string, string> => ofKind(objs(), 'ConfigMap').find((x) => x.metadata.name === name)?.data ?? {};
      const names = [
        ...(c.env ?? []).map((e: Obj) => e.name as string),
        ...(c.envFrom ?? []).flatMap((e: Obj) => (e.configMapRef ? Object.keys(cmData(e.configMapRef.name)).map((k) => `${e.prefix ?? ''}${k}`) : [])),
      ];
      // What src/cli/trigger.ts, src/trigger/config.ts and src/orchestration/config.ts read.
      const reads = /^(TEMPORAL_(ADDRESS|NAMESPACE|TLS_CERT|TLS_KEY|TLS_CA|TLS_SERVER_NAME)|DIFFC_TRIGGER_\w+|DIFFC_OUTPUT_PREFIX|DIFFC_MODEL_ID|DIFFC_QUEUE_(IO|GPU))$/;
      for (const n of names) assert.match(n, reads, `the trigger gets ${n}, which it does not read`);
      assert.ok(!names.some((n) => n.startsWith('S3_')), 'no S3 settings');
      for (const k of allContainers(d)) {
        assert.deepEqual((k.envFrom ?? []).filter((e: Obj) => e.secretRef), [], 'no Secret imported whole');
        for (const e of k.env ?? []) assert.notEqual(e.valueFrom?.secretKeyRef?.name, 'diffc-s3', `${k.name} ${e.name} is no S3 credential`);
      }
      const secretVolumes = (podSpec(d).volumes ?? []).filter((v: Obj) => v.secret).map((v: Obj) => v.secret.secretName);
      assert.deepEqual(secretVolumes, ['diffc-temporal-tls']);
      assert.equal(c.env.find((e: Obj) => e.name === 'DIFFC_TRIGGER_SECRET')?.valueFrom?.secretKeyRef?.name, 'diffc-trigger');
      for (const n of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'DIFFC_TRIGGER_SECRET', 'DIFFC_TRIGGER_BUCKETS', 'DIFFC_TRIGGER_PREFIX']) assert.ok(names.includes(n), `the trigger gets ${n}`);
      if (configValue(objs(), 'TEMPORAL_TLS_CERT')) for (const n of ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY']) assert.ok(names.includes(n), `mTLS: ${n}`);
    });

    test('trigger: an allow-list of buckets (required by `trigger serve`), a folder prefix', () => {
      const buckets = (configValue(objs(), 'DIFFC_TRIGGER_BUCKETS') ?? '').split(',').map((b) => b.trim()).filter(Boolean);
      assert.ok(buckets.length > 0, 'DIFFC_TRIGGER_BUCKETS names at least one bucket');
      for (const b of buckets) assert.match(b, /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/);
      assert.match(configValue(objs(), 'DIFFC_TRIGGER_PREFIX') ?? 'x/', /\/$/, 'the prefix is a folder (sweeps and bulk jobs take it so)');
      if (overlay === 'dev') {
        const minio = parseYaml(readFileSync(join(REPO, 'infra', 'helm', 'minio-values.yaml'), 'utf8')) as Obj;
        const event = (minio.customCommands as Obj[]).map((c) => String(c.command)).find((c) => c.startsWith('event add'))!;
        const notified = /myminio\/([^\s]+)/.exec(event)![1];
        assert.ok(buckets.includes(notified), `the bucket MinIO notifies (${notified}) is allowed`);
      }
    });

    test('KEDA: io is a ScaledObject on its queue; gpu a ScaledJob on the gpu activity backlog, from 0', () => {
      const sos = ofKind(objs(), 'ScaledObject');
      const so = sos.find((x) => x.spec.scaleTargetRef.name === io().metadata.name);
      assert.ok(so, 'diffc-io-worker is scaled');
      assert.equal(io().spec.replicas, undefined, 'diffc-io-worker leaves replicas to KEDA');
      assert.ok(so.spec.cooldownPeriod >= 60, 'cool-down of a minute or more');
      assert.equal(so.spec.scaleTargetRef.envSourceContainerName ?? mainContainer(io()).name, mainContainer(io()).name);
      // No ScaledObject (an HPA) may own the gpu workers: it would scale busy pods away.
      assert.equal(ofKind(objs(), 'Deployment').find((d) => d.metadata.name === 'diffc-gpu-worker'), undefined);
      assert.equal(sos.find((x) => /gpu/.test(x.spec.scaleTargetRef.name)), undefined);
      for (const [scaler, d, queue, types] of [[so, io(), 'io', 'workflow,activity'], [gpu(), gpu(), 'gpu', 'activity']] as const) {
        const t = scaler.spec.triggers[0];
        assert.equal(t.type, 'temporal');
        assert.equal(t.metadata.taskQueue, queue);
        assert.equal(t.metadata.queueTypes, types);
        const c = mainContainer(d);
        assert.equal(c.args[c.args.indexOf('--queues') + 1], queue);
        assert.ok(scaler.spec.maxReplicaCount >= 1);
        // The endpoint comes from the target's environment: the ConfigMap the worker reads.
        if (t.metadata.endpointFromEnv) assert.ok(configValue(objs(), t.metadata.endpointFromEnv), `${t.metadata.endpointFromEnv} is set`);
      }
      assert.equal(gpu().spec.envSourceContainerName, mainContainer(gpu()).name);
      assert.equal(gpu().spec.minReplicaCount ?? 0, 0, 'no GPU held while there is no work');
      if (configValue(objs(), 'TEMPORAL_TLS_CERT')) {
        for (const x of [...sos, gpu()]) assert.ok(x.spec.triggers[0].authenticationRef, `${x.metadata.name} uses the TLS TriggerAuthentication`);
      }
    });

    test('gpu ScaledJob: busy Jobs are never scaled away; idle ones end themselves', () => {
      const sj = gpu(), c = mainContainer(sj), args: string[] = c.args;
      // Backlog counts only tasks nobody took: accurate = backlog - Jobs still starting.
      assert.equal(sj.spec.scalingStrategy.strategy, 'accurate');
      // The default rollout deletes running Jobs when the ScaledJob changes (a new image).
      assert.equal(sj.spec.rollout.strategy, 'gradual');
      const idle = Number(args[args.indexOf('--exit-when-idle') + 1]);
      assert.ok(args.includes('--exit-when-idle') && idle >= 60, `--exit-when-idle ${idle}: a GPU pod waits for more work before it ends`);
      assert.equal(podSpec(sj).restartPolicy, 'Never', 'an idle exit (0) ends the Job, it does not restart the pod');
      assert.equal(sj.spec.jobTargetRef.backoffLimit, 0);
      assert.equal(sj.spec.jobTargetRef.activeDeadlineSeconds, undefined, 'no deadline kills a busy Job');
      assert.equal(sj.spec.triggers[0].metadata.targetQueueSize, String(c.args.includes('--gpu-concurrency') ? c.args[c.args.indexOf('--gpu-concurrency') + 1] : 1), 'one Job per gpu slot of backlog');
    });

    test('Worker Versioning: workers read DIFFC_DEPLOYMENT_NAME / DIFFC_BUILD_ID from an optional diffc-build ConfigMap', () => {
      for (const d of workerPods(objs())) {
        const ref = mainContainer(d).envFrom.find((e: Obj) => e.configMapRef?.name.startsWith('diffc-build'));
        assert.ok(ref, `${d.metadata.name} imports diffc-build`);
        const cm = ofKind(objs(), 'ConfigMap').find((x) => x.metadata.name === ref.configMapRef.name);
        // Absent: unversioned workers (what both overlays ship today, docs/deploy.md).
        if (!cm) assert.equal(ref.configMapRef.optional, true);
        else assert.match(cm.data.DIFFC_BUILD_ID, /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/);
      }
    });

    test('model cache: an init container syncs the bundle into the volume the worker mounts read-only', () => {
      const s = podSpec(gpu());
      const sync = s.initContainers.find((c: Obj) => c.args?.[0] === 'models' && c.args?.[1] === 'sync');
      assert.ok(sync, 'a `diffc models sync` init container');
      assert.match(sync.args[2], /^\$\(DIFFC_MODEL_BUNDLE_URL\)$|^s3:\/\//);
      assert.ok(configValue(objs(), 'DIFFC_MODEL_BUNDLE_URL')?.startsWith('s3://'));
      const syncMount = sync.volumeMounts.find((m: Obj) => sync.args[3].startsWith(m.mountPath));
      assert.ok(syncMount && !syncMount.readOnly, 'the sync target is on a writable mount');
      const workerMount = mainContainer(gpu()).volumeMounts.find((m: Obj) => m.name === syncMount.name);
      assert.equal(workerMount?.readOnly, true);
      assert.equal(workerMount.mountPath, configValue(objs(), 'DIFFC_MODEL_DIR'));
      const vol = s.volumes.find((v: Obj) => v.name === syncMount.name);
      assert.ok(vol.persistentVolumeClaim, 'a PVC shared by the pods');
      const pvc = named(objs(), 'PersistentVolumeClaim', vol.persistentVolumeClaim.claimName);
      assert.ok(pvc.spec.accessModes.includes(overlay === 'prod' ? 'ReadWriteMany' : 'ReadWriteOnce'));
    });

    test('metrics: a ServiceMonitor scrapes /metrics of both worker kinds', () => {
      const sm = ofKind(objs(), 'ServiceMonitor')[0];
      const svc = ofKind(objs(), 'Service').find((s) => matches(sm.spec.selector.matchLabels, s.metadata.labels));
      assert.ok(svc, 'the ServiceMonitor selects a Service');
      for (const d of [gpu(), io()]) assert.ok(matches(svc.spec.selector, template(d).metadata.labels), `${d.metadata.name} is scraped`);
      assert.equal(sm.spec.endpoints[0].path, '/metrics');
      assert.ok(svc.spec.ports.some((p: Obj) => p.name === sm.spec.endpoints[0].port));
    });
  });
}

test('overlay differences: dev runs the Temporal dev server and MinIO endpoints; prod uses TLS and no dev server', () => {
  const dev = rendered.get('dev')!, prod = rendered.get('prod')!;
  named(dev, 'Deployment', 'temporal-dev');
  assert.match(configValue(dev, 'TEMPORAL_ADDRESS')!, /^temporal-dev\./);
  assert.match(configValue(dev, 'S3_ENDPOINT')!, /minio/);
  assert.equal(prod.find((o) => o.metadata.name === 'temporal-dev'), undefined);
  assert.equal(configValue(prod, 'TEMPORAL_TLS_CERT'), '/var/run/secrets/diffc/temporal-tls/tls.crt');
  for (const d of ofKind(prod, 'Deployment')) {
    const tls = podSpec(d).volumes.find((v: Obj) => v.name === 'temporal-tls');
    assert.equal(tls.secret.optional, false, `${d.metadata.name} requires the TLS Secret in prod`);
  }
  named(prod, 'TriggerAuthentication', 'diffc-temporal-tls');
  named(prod, 'Ingress', 'diffc-trigger');
});

describe('the validator rejects what it should (so a pass means something)', () => {
  const base = () => structuredClone(rendered.get('prod')!);
  const broken = (mutate: (objs: Obj[]) => void) => {
    const objs = base();
    mutate(objs);
    return validate(objs);
  };
  const dep = (objs: Obj[]) => objs.find((o) => o.kind === 'Deployment')!;

  test('an unknown field in a Deployment', () => {
    const r = broken((o) => { mainContainer(dep(o)).imagePullPolicyy = 'IfNotPresent'; });
    assert.equal(r.status, 1);
    assert.ok(r.errors.some((e) => /imagePullPolicyy/.test(e.error)), JSON.stringify(r.errors));
  });
  test('a wrong type in a core object', () => {
    const r = broken((o) => { podSpec(dep(o)).terminationGracePeriodSeconds = 'long'; });
    assert.equal(r.status, 1);
  });
  test('a misspelt field in a ScaledObject and a misspelt Temporal scaler parameter', () => {
    let r = broken((o) => { o.find((x) => x.kind === 'ScaledObject')!.spec.cooldownPeriode = 5; });
    assert.ok(r.errors.some((e) => /cooldownPeriode/.test(e.error)), JSON.stringify(r.errors));
    r = broken((o) => { const t = o.find((x) => x.kind === 'ScaledObject')!.spec.triggers[0]; t.metadata.taskQueu = t.metadata.taskQueue; });
    assert.ok(r.errors.some((e) => /taskQueu'/.test(e.error)), JSON.stringify(r.errors));
    r = broken((o) => { o.find((x) => x.kind === 'TriggerAuthentication')!.spec.secretTargetRef[0].parameter = 'certificate'; });
    assert.ok(r.errors.some((e) => /certificate/.test(e.error)), JSON.stringify(r.errors));
  });
  test('a wrong type in a ServiceMonitor', () => {
    const r = broken((o) => { o.find((x) => x.kind === 'ServiceMonitor')!.spec.endpoints[0].port = 9464; });
    assert.equal(r.status, 1);
  });
  test('an unknown kind is an error, not a silent pass', () => {
    const r = broken((o) => { o.push({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: {} }); });
    assert.ok(r.errors.some((e) => /no schema/.test(e.error)), JSON.stringify(r.errors));
  });
});

describe('infra: worker image and Helm values', () => {
  const dockerfile = () => readFileSync(join(REPO, 'infra', 'docker', 'Dockerfile'), 'utf8');
  const stages = () => dockerfile().split('\n').filter((l) => /^FROM\s/i.test(l));

  test('Dockerfile: multi-stage, pinned bases, CUDA runtime, non-root, the CLI as entrypoint', () => {
    const froms = stages();
    assert.ok(froms.length >= 2, 'multi-stage');
    for (const f of froms) {
      const image = f.split(/\s+/)[1];
      if (/^\$\{?\w+/.test(image)) continue; // an ARG, checked below
      assert.match(image, /:[\w.-]+(@sha256:[0-9a-f]{64})?$|@sha256:[0-9a-f]{64}$/, `${image} is pinned`);
      assert.doesNotMatch(image, /:latest\b/);
    }
    const text = dockerfile();
    for (const m of text.matchAll(/^ARG\s+(\w+_IMAGE)=(\S+)/gm)) assert.match(m[2], /:[\w.-]+/, `${m[1]} pinned`);
    const runtime = froms.at(-1)!;
    const runtimeImage = /^\$\{?(\w+)/.test(runtime.split(/\s+/)[1])
      ? new RegExp(`^ARG\\s+${/^\$\{?(\w+)/.exec(runtime.split(/\s+/)[1])![1]}=(\\S+)`, 'm').exec(text)![1]
      : runtime.split(/\s+/)[1];
    assert.match(runtimeImage, /^nvidia\/cuda:[\d.]+-cudnn[\w-]*-runtime-ubuntu[\d.]+$/, 'runtime stage on a CUDA + cuDNN runtime image');
    const last = text.slice(text.lastIndexOf(runtime));
    const user = /^USER\s+(\S+)/m.exec(last);
    assert.ok(user && !/^(0|root)(:|$)/.test(user[1]), 'runtime runs as a non-root USER');
    assert.match(user[1], /^\d+(:\d+)?$/, 'numeric USER, so runAsNonRoot can check it');
    assert.match(text, /ONNXRUNTIME_NODE_INSTALL_CUDA=v12/, 'onnxruntime-node with its CUDA EP');
    assert.match(last, /ENTRYPOINT\s+\["node",\s*"\/app\/bin\/diffc\.js"\]/);
    assert.match(text, /npm ci/);
    const ignore = readFileSync(join(REPO, '.dockerignore'), 'utf8');
    for (const p of ['node_modules', '.git', '.cache']) assert.match(ignore, new RegExp(`^/?${p.replace('.', '\\.')}/?$`, 'm'));
  });

  test('Helm values parse; MinIO creates the buckets and posts events to the trigger Service', () => {
    const minio = parseYaml(readFileSync(join(REPO, 'infra', 'helm', 'minio-values.yaml'), 'utf8')) as Obj;
    const buckets = (minio.buckets as Obj[]).map((b) => b.name);
    assert.ok(buckets.includes('diffc') && buckets.includes('diffc-models'));
    const dev = rendered.get('dev')!;
    const bundle = configValue(dev, 'DIFFC_MODEL_BUNDLE_URL')!;
    assert.ok(buckets.includes(/^s3:\/\/([^/]+)/.exec(bundle)![1]), 'the dev model bucket exists');
    const text = JSON.stringify(minio);
    assert.match(text, /diffc-trigger\.diffc\.svc\.cluster\.local(:80)?\/events/);
    assert.ok(minio.existingSecret, 'MinIO root credentials from a Secret');
    assert.equal(minio.rootPassword, undefined, 'no inline MinIO password');
    assert.ok(minio.extraSecret, 'the webhook token from a Secret');
    assert.doesNotMatch(text, /AUTH_TOKEN_DIFFC"?:/, 'no inline webhook token');
    const temporal = parseYaml(readFileSync(join(REPO, 'infra', 'helm', 'temporal-values.yaml'), 'utf8')) as Obj;
    assert.ok(temporal.server, 'Temporal chart values have a server section');
    assert.doesNotMatch(readFileSync(join(REPO, 'infra', 'helm', 'temporal-values.yaml'), 'utf8'), /password:\s*["']?\w{3,}/i, 'no inline database password');
  });
});
