/**
 * scripts/minikube, run against stand-ins for minikube, kubectl and docker that record
 * what they are asked and answer as a running Minikube would. No cluster runs here: this
 * checks the script's own logic (what it builds and tags, in which order it installs and
 * applies, what it waits for), not that Minikube accepts it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { servicePath } from '@mp3converter/testkit';
import {
  ROOT,
  kustomizationResources,
  loadManifests,
  workloads,
  type Workload,
} from './manifests.ts';

const run = promisify(execFile);
const SERVICES = ['auth', 'gateway', 'converter', 'notification'];

/** Every stand-in logs its name and arguments, one call per line, then answers. */
const STAND_INS: Record<string, string> = {
  minikube: `
case "$1 $2" in
  "status "*) [ "$FAKE_MINIKUBE_DOWN" = 1 ] && exit 7; echo Running ;;
  "profile ") echo minikube ;;
  "profile list") echo '{"valid":[{"Name":"minikube","Config":{"Driver":"docker"}}]}' ;;
  "docker-env "*) echo 'export DOCKER_HOST="tcp://192.168.49.2:2376"' ;;
  "ip "*) echo 192.168.49.2 ;;
esac`,
  kubectl: `
case "$*" in
  "config current-context") echo minikube ;;
  *"get deployments -o name") printf '%s\\n' $FAKE_EXISTING ;;
esac`,
  docker: `echo "DOCKER_HOST=$DOCKER_HOST" >>"$FAKE_LOG"`,
};

let dir: string;
let applied: Workload[];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mp3test-minikube-'));
  for (const [name, body] of Object.entries(STAND_INS)) {
    const path = join(dir, 'bin', name);
    await mkdir(join(dir, 'bin'), { recursive: true });
    await writeFile(path, `#!/bin/bash\necho "${name} $*" >>"$FAKE_LOG"\n${body}\nexit 0\n`);
    await chmod(path, 0o755);
  }
  applied = workloads(loadManifests(kustomizationResources()));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function minikubeScript(
  args: string[],
  env: Record<string, string> = {},
  withDocker = true,
): Promise<{ calls: string[]; stdout: string; code: number; stderr: string }> {
  const log = join(dir, `calls-${Math.random().toString(36).slice(2)}.log`);
  await writeFile(log, '');
  // The stand-ins first on PATH; without docker, a PATH where docker is not found at all.
  const path = withDocker
    ? `${join(dir, 'bin')}:${servicePath}`
    : `${join(dir, 'bin-nodocker')}:/usr/bin:/bin`;
  if (!withDocker) {
    await mkdir(join(dir, 'bin-nodocker'), { recursive: true });
    for (const name of ['minikube', 'kubectl']) {
      await copyFile(join(dir, 'bin', name), join(dir, 'bin-nodocker', name));
    }
  }
  let result: { stdout: string; stderr: string; code: number };
  try {
    const { stdout, stderr } = await run('bash', [join(ROOT, 'scripts/minikube'), ...args], {
      cwd: ROOT,
      env: { PATH: path, HOME: dir, FAKE_LOG: log, ...env },
    });
    result = { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    result = { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
  const calls = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  return { ...result, calls };
}

function indexOf(calls: string[], prefix: string): number {
  const at = calls.findIndex((call) => call.startsWith(prefix));
  assert.ok(at >= 0, `no call "${prefix}..." in:\n${calls.join('\n')}`);
  return at;
}

describe('scripts/minikube', () => {
  it('builds the images the manifests name, installs KEDA, applies k8s/ and waits for every workload', async () => {
    const { calls, stdout, code, stderr } = await minikubeScript([]);
    assert.equal(code, 0, stderr);
    for (const service of SERVICES) {
      const image = applied.find((w) => w.metadata.name === service)?.spec.template.spec
        .containers[0]?.image;
      const build = indexOf(
        calls,
        `docker build --quiet -f docker/Dockerfile --target ${service} -t ${image} .`,
      );
      // Built by Minikube's own Docker daemon, where the pods find the image.
      assert.equal(calls[build + 1], 'DOCKER_HOST=tcp://192.168.49.2:2376');
    }
    const ingress = indexOf(calls, 'minikube addons enable ingress');
    indexOf(calls, 'minikube addons enable metrics-server');
    const { KEDA_VERSION } = await k8sVersions();
    const keda = indexOf(
      calls,
      `kubectl apply --server-side -f https://github.com/kedacore/keda/releases/download/v${KEDA_VERSION}/keda-${KEDA_VERSION}.yaml`,
    );
    const apply = indexOf(calls, 'kubectl apply -k k8s/');
    assert.ok(ingress < apply && keda < apply, 'the addons and KEDA before k8s/');
    const hpa = indexOf(
      calls,
      'kubectl -n mp3converter delete horizontalpodautoscaler converter --ignore-not-found',
    );
    assert.ok(hpa < apply, 'the HPA of a --no-keda run removed before the ScaledObject');
    assert.ok(indexOf(calls, 'kubectl -n ingress-nginx wait') < apply, 'the admission webhook up');
    const waited = calls
      .filter((call) => call.startsWith('kubectl -n mp3converter rollout status '))
      .map((call) => call.split(' ')[5]);
    assert.deepEqual(
      waited.sort(),
      applied.map((w) => `${w.kind.toLowerCase()}/${w.metadata.name}`).sort(),
    );
    assert.equal(
      calls.filter((call) => call.includes('rollout restart')).length,
      0,
      'a first deploy',
    );
    assert.match(stdout, /echo "192\.168\.49\.2 mp3converter\.com" \| sudo tee -a \/etc\/hosts/);
  });

  it('restarts the services already deployed, so that they run the images just built', async () => {
    const existing = SERVICES.map((s) => `deployment.apps/${s}`).join(' ');
    const { calls, code, stderr } = await minikubeScript([], { FAKE_EXISTING: existing });
    assert.equal(code, 0, stderr);
    for (const service of SERVICES) {
      const restart = indexOf(
        calls,
        `kubectl -n mp3converter rollout restart deployment/${service}`,
      );
      assert.ok(restart > indexOf(calls, 'kubectl apply -k k8s/'));
    }
  });

  it("--no-keda applies every file of the kustomization but KEDA's, and the CPU autoscaler", async () => {
    const { calls, code, stderr } = await minikubeScript(['--no-keda']);
    assert.equal(code, 0, stderr);
    assert.ok(!calls.some((call) => call.includes('kedacore')), 'KEDA not installed');
    const removed = indexOf(calls, 'kubectl -n mp3converter delete scaledobject converter');
    assert.ok(
      removed < indexOf(calls, 'kubectl apply -f'),
      'the ScaledObject of a KEDA run removed first',
    );
    const apply = calls[indexOf(calls, 'kubectl apply -f')] ?? '';
    const files = [...apply.matchAll(/-f (\S+)/g)].map((m) => m[1]);
    const expected = kustomizationResources()
      .filter((file) => !file.startsWith('converter/keda/'))
      .map((file) => `k8s/${file}`);
    assert.deepEqual(files, [...expected, 'k8s/converter/hpa/']);
  });

  it('builds with `minikube image build` where no docker CLI is installed', async () => {
    const { calls, code, stderr } = await minikubeScript([], {}, false);
    assert.equal(code, 0, stderr);
    for (const service of SERVICES) {
      indexOf(
        calls,
        `minikube image build -f docker/Dockerfile --build-opt=target=${service} -t mp3converter/${service}:`,
      );
    }
  });

  it('stops with the command to run when Minikube is not running', async () => {
    const { calls, code, stderr } = await minikubeScript([], { FAKE_MINIKUBE_DOWN: '1' });
    assert.notEqual(code, 0);
    assert.match(stderr, /Minikube is not running: minikube start/);
    assert.ok(!calls.some((call) => call.startsWith('docker') || call.startsWith('kubectl apply')));
  });
});

async function k8sVersions(): Promise<Record<string, string>> {
  const text = await readFile(join(ROOT, 'scripts/lib/k8s.sh'), 'utf8');
  return Object.fromEntries(
    [...text.matchAll(/^([A-Z_]+)="?([^"\n]*)"?$/gm)].map((m) => [m[1]!, m[2]!]),
  );
}
