/**
 * k8s/ checked offline: valid against the Kubernetes, KEDA and Gateway API schemas with
 * unknown fields rejected, references that resolve, every service given the environment
 * its own config schema accepts, and every pod held to the same rules.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { readDockerfile, stageChain, type Dockerfile, type Stage } from './dockerfile.ts';
import { AUTH_VARIABLES, loadAuthConfig } from '../../services/auth/src/config.ts';
import { CONVERTER_VARIABLES, loadConverterConfig } from '../../services/converter/src/config.ts';
import { shutdownBudgetMs as converterBudgetMs } from '../../services/converter/src/worker.ts';
import { GATEWAY_VARIABLES, loadGatewayConfig } from '../../services/gateway/src/config.ts';
import { shutdownBudgetMs as gatewayBudgetMs } from '../../services/gateway/src/server.ts';
import {
  NOTIFICATION_VARIABLES,
  loadNotificationConfig,
} from '../../services/notification/src/config.ts';
import { shutdownBudgetMs as notificationBudgetMs } from '../../services/notification/src/worker.ts';
import {
  K8S_DIR,
  NAMESPACE,
  ROOT,
  byKind,
  bytesOf,
  containerEnv,
  dataOf,
  find,
  kustomizationResources,
  loadManifests,
  manifestFiles,
  selects,
  workloads,
  type Container,
  type Labels,
  type Manifest,
  type Workload,
} from './manifests.ts';

const run = promisify(execFile);

/** Applied by hand instead of something in the kustomization (README). */
const ALTERNATIVES = ['converter/hpa/hpa.yaml', 'gateway/gateway-api/httproute.yaml'];
const INFRASTRUCTURE = ['rabbitmq', 'mongodb', 'mysql', 'maildev'];

/** What the image sets (docker/Dockerfile, `runtime`), which the config schemas also read. */
const IMAGE_ENV = {
  NODE_ENV: 'production',
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
};
/** Read by node itself, not by the service's config. */
const RUNTIME_VARIABLES = ['NODE_OPTIONS'];

interface ServiceSpec {
  variables: readonly string[];
  load: (env: Record<string, string>) => unknown;
  /** How long its stop() may take after SIGTERM, from its own config. */
  shutdownBudgetMs?: (env: Record<string, string>) => number;
}

const SERVICES: Record<string, ServiceSpec> = {
  auth: { variables: AUTH_VARIABLES, load: loadAuthConfig },
  gateway: {
    variables: GATEWAY_VARIABLES,
    load: loadGatewayConfig,
    shutdownBudgetMs: (env) => gatewayBudgetMs(loadGatewayConfig(env)),
  },
  converter: {
    variables: CONVERTER_VARIABLES,
    load: loadConverterConfig,
    shutdownBudgetMs: (env) => converterBudgetMs(loadConverterConfig(env)),
  },
  notification: {
    variables: NOTIFICATION_VARIABLES,
    load: loadNotificationConfig,
    shutdownBudgetMs: (env) => notificationBudgetMs(loadNotificationConfig(env)),
  },
};

const all = loadManifests(manifestFiles());
const applied = loadManifests(kustomizationResources());

function workload(name: string): Workload {
  const found = workloads(all).find((w) => w.metadata.name === name);
  if (found === undefined) throw new Error(`no workload named ${name}`);
  return found;
}

function mainContainer(w: Workload): Container {
  const container = w.spec.template.spec.containers[0];
  assert.ok(container, `${w.metadata.name} has no container`);
  return container;
}

function podsSelectedBy(selector: Labels): Workload[] {
  return workloads(all).filter((w) => selects(selector, w.spec.template.metadata.labels));
}

function hasPort(w: Workload, port: string | number): boolean {
  return w.spec.template.spec.containers.some((c) =>
    (c.ports ?? []).some((p) => p.name === port || p.containerPort === port),
  );
}

function serviceEnv(name: string, withImage = true): Record<string, string> {
  return containerEnv(all, mainContainer(workload(name)), withImage ? IMAGE_ENV : {});
}

describe('k8s/ files', () => {
  it('lists every manifest in the kustomization, but the documented alternatives', () => {
    const listed = kustomizationResources();
    assert.deepEqual([...listed, ...ALTERNATIVES].sort(), manifestFiles());
    assert.equal(new Set(listed).size, listed.length, 'a file is listed twice');
  });

  it('names every object, and puts every namespaced one in the mp3converter namespace', () => {
    for (const m of all) {
      assert.ok(m.metadata.name, `${m.file}: an object without a name`);
      if (m.kind === 'Namespace') continue;
      assert.equal(m.metadata.namespace, NAMESPACE, `${m.file}: ${m.kind} ${m.metadata.name}`);
    }
    const names = all.map((m) => `${m.kind}/${m.metadata.name}`);
    assert.equal(new Set(names).size, names.length, 'two objects share a kind and a name');
  });

  it('has every k8s/ path the README names', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const paths = new Set([...readme.matchAll(/\bk8s\/[\w./-]*/g)].map((m) => m[0]));
    assert.ok(paths.size > 10, `${paths.size} paths`);
    for (const path of paths) {
      await access(join(ROOT, path)).catch(() => {
        assert.fail(`the README names ${path}, which does not exist`);
      });
    }
  });

  it('marks every committed Secret value as development-only', () => {
    for (const secret of byKind(all, 'Secret')) {
      const text = JSON.stringify(dataOf(secret));
      const values = Object.values(dataOf(secret));
      if (values.length === 0) continue;
      assert.ok(
        /dev-only/.test(text),
        `${secret.file}: Secret ${secret.metadata.name} has values not marked dev-only`,
      );
    }
  });
});

describe('validation against the API schemas (kubeconform, unknown fields rejected)', () => {
  let tools: Record<string, string>;
  let scratch: string;

  before(async () => {
    const { stdout } = await run('bash', [join(ROOT, 'scripts/lib/k8s-tools.sh')], {
      timeout: 10 * 60_000,
      maxBuffer: 1 << 20,
    });
    tools = Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
    );
    scratch = await mkdtemp(join(tmpdir(), 'mp3test-k8s-'));
  });

  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  function schemaVersions(): string[] {
    return Object.keys(tools)
      .filter((key) => key.startsWith('K8S_SCHEMAS_'))
      .map((key) => key.slice('K8S_SCHEMAS_'.length));
  }

  async function kubeconform(
    version: string,
    files: string[],
  ): Promise<{ ok: boolean; output: string }> {
    const kubeconformPath = tools.KUBECONFORM;
    assert.ok(kubeconformPath, 'k8s-tools.sh gave no KUBECONFORM');
    const args = [
      '-strict',
      '-summary',
      '-kubernetes-version',
      `${version}.0`,
      '-schema-location',
      `${tools[`K8S_SCHEMAS_${version}`]}/{{ .ResourceKind }}{{ .KindSuffix }}.json`,
      '-schema-location',
      `${tools.CRD_SCHEMAS}/{{ .ResourceKind }}{{ .KindSuffix }}.json`,
      ...files,
    ];
    try {
      const { stdout } = await run(kubeconformPath, args, { maxBuffer: 8 << 20 });
      return { ok: true, output: stdout };
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string };
      return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
    }
  }

  it('accepts every manifest, alternatives included, for each Kubernetes version', async () => {
    const versions = schemaVersions();
    assert.ok(versions.length >= 2, `schema versions: ${versions.join(', ')}`);
    const files = manifestFiles().map((file) => join(K8S_DIR, file));
    for (const version of versions) {
      const result = await kubeconform(version, files);
      assert.ok(result.ok, `Kubernetes ${version}:\n${result.output}`);
      // Nothing skipped for want of a schema: every kind was checked.
      assert.match(
        result.output,
        new RegExp(`Valid: ${all.length}, Invalid: 0, Errors: 0, Skipped: 0`),
      );
    }
  });

  it('rejects a misspelt field, in a Deployment and in a KEDA ScaledObject', async () => {
    const cases = [
      ['gateway/deployment.yaml', 'readinessProbe:', 'readinesProbe:'],
      ['converter/keda/scaledobject.yaml', 'minReplicaCount:', 'minReplicas:'],
      ['gateway/gateway-api/httproute.yaml', 'hostnames:', 'hostname:'],
    ] as const;
    const version = schemaVersions()[0] ?? '';
    for (const [file, field, typo] of cases) {
      const text = await readFile(join(K8S_DIR, file), 'utf8');
      assert.ok(text.includes(field), `${file} has no ${field}`);
      const broken = join(scratch, file.replaceAll('/', '-'));
      await writeFile(broken, text.replace(field, typo));
      const result = await kubeconform(version, [broken]);
      assert.equal(result.ok, false, `${file} with ${typo} passed:\n${result.output}`);
      assert.match(result.output, new RegExp(`'${typo.replace(':', '')}' not allowed`));
    }
  });
});

describe('kubectl kustomize k8s/', () => {
  it('renders the listed files, in an order that applies: namespace, secrets and config, servers, services', async (t) => {
    let rendered: string;
    try {
      rendered = (await run('kubectl', ['kustomize', K8S_DIR], { maxBuffer: 8 << 20 })).stdout;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        t.skip('kubectl is not installed');
        return;
      }
      throw error;
    }
    const objects = parseAllDocuments(rendered).map(
      (d) => d.toJS() as Pick<Manifest, 'kind' | 'metadata'>,
    );
    const order = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    assert.deepEqual(
      order,
      applied.map((m) => `${m.kind}/${m.metadata.name}`),
    );
    assert.equal(order[0], 'Namespace/mp3converter');
    const position = (kind: string, name: string) => order.indexOf(`${kind}/${name}`);
    for (const w of workloads(applied)) {
      const at = position(w.kind, w.metadata.name);
      for (const c of w.spec.template.spec.containers) {
        const refs = [
          ...(c.envFrom ?? []).map((e) =>
            e.configMapRef ? ['ConfigMap', e.configMapRef.name] : ['Secret', e.secretRef?.name],
          ),
          ...(c.env ?? []).flatMap((e) =>
            e.valueFrom?.secretKeyRef ? [['Secret', e.valueFrom.secretKeyRef.name]] : [],
          ),
        ] as [string, string][];
        for (const [kind, name] of refs) {
          assert.ok(
            position(kind, name) >= 0 && position(kind, name) < at,
            `${kind} ${name} after ${w.metadata.name}`,
          );
        }
      }
    }
    const lastServer = Math.max(...INFRASTRUCTURE.map((n) => position(workload(n).kind, n)));
    for (const name of Object.keys(SERVICES)) {
      assert.ok(position('Deployment', name) > lastServer, `${name} comes before the servers`);
    }
  });
});

describe('references between objects', () => {
  it('gives every workload a selector that matches its own pods', () => {
    for (const w of workloads(all)) {
      assert.ok(
        selects(w.spec.selector.matchLabels, w.spec.template.metadata.labels),
        `${w.metadata.name}: selector does not match the pod labels`,
      );
    }
  });

  it('points every Service at pods that have its target ports', () => {
    for (const service of byKind(all, 'Service')) {
      const spec = service.spec as {
        selector: Labels;
        clusterIP?: string;
        ports: { port: number; targetPort: string | number }[];
      };
      const pods = podsSelectedBy(spec.selector);
      assert.equal(
        pods.length,
        1,
        `Service ${service.metadata.name} selects ${pods.length} workloads`,
      );
      for (const port of spec.ports) {
        assert.ok(
          hasPort(pods[0]!, port.targetPort),
          `Service ${service.metadata.name}: no ${port.targetPort}`,
        );
      }
    }
    for (const set of workloads(all).filter((w) => w.kind === 'StatefulSet')) {
      const service = find(all, 'Service', set.spec.serviceName ?? '');
      assert.equal((service.spec as { clusterIP?: string }).clusterIP, 'None', 'headless');
    }
  });

  it('routes the Ingress and the HTTPRoute to the gateway Service port', () => {
    const ingress = find(all, 'Ingress', 'gateway').spec as {
      rules: {
        host: string;
        http: { paths: { backend: { service: { name: string; port: { name: string } } } }[] };
      }[];
    };
    const gatewayService = find(all, 'Service', 'gateway').spec as {
      ports: { name: string; port: number }[];
    };
    assert.equal(ingress.rules[0]?.host, 'mp3converter.com');
    for (const path of ingress.rules[0].http.paths) {
      assert.equal(path.backend.service.name, 'gateway');
      assert.ok(gatewayService.ports.some((p) => p.name === path.backend.service.port.name));
    }
    const route = find(all, 'HTTPRoute', 'gateway').spec as {
      hostnames: string[];
      rules: { backendRefs: { name: string; port: number }[] }[];
    };
    assert.deepEqual(route.hostnames, ['mp3converter.com']);
    for (const ref of route.rules.flatMap((r) => r.backendRefs)) {
      assert.equal(ref.name, 'gateway');
      assert.ok(gatewayService.ports.some((p) => p.port === ref.port));
    }
  });

  it('resolves every ConfigMap, Secret and key a pod reads, and every named probe port', () => {
    for (const w of workloads(all)) {
      for (const c of w.spec.template.spec.containers) {
        containerEnv(all, c); // throws on a missing ConfigMap, Secret or key
        for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
          const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
          if (port !== undefined)
            assert.ok(hasPort(w, port), `${w.metadata.name}: probe port ${port}`);
        }
        for (const mount of c.volumeMounts ?? []) {
          const volume = (w.spec.template.spec.volumes ?? []).find((v) => v.name === mount.name);
          const claims = (w.spec as { volumeClaimTemplates?: { metadata: { name: string } }[] })
            .volumeClaimTemplates;
          const claimed = (claims ?? []).some((claim) => claim.metadata.name === mount.name);
          assert.ok(volume !== undefined || claimed, `${w.metadata.name}: no volume ${mount.name}`);
          if (volume?.configMap) {
            const data = dataOf(find(all, 'ConfigMap', volume.configMap.name));
            if (mount.subPath !== undefined) assert.ok(mount.subPath in data, mount.subPath);
          }
        }
      }
    }
  });

  it('aims every PodDisruptionBudget, NetworkPolicy and autoscaler at existing pods', () => {
    for (const pdb of byKind(all, 'PodDisruptionBudget')) {
      const selector = (pdb.spec as { selector: { matchLabels: Labels } }).selector.matchLabels;
      assert.equal(podsSelectedBy(selector).length, 1, `PDB ${pdb.metadata.name}`);
    }
    for (const policy of byKind(all, 'NetworkPolicy')) {
      const spec = policy.spec as {
        podSelector: { matchLabels?: Labels };
        ingress?: {
          from?: { podSelector?: { matchLabels: Labels } }[];
          ports?: { port: string | number }[];
        }[];
        egress?: {
          to?: { podSelector?: { matchLabels: Labels } }[];
          ports?: { port: string | number }[];
        }[];
      };
      const selected = spec.podSelector.matchLabels;
      if (selected === undefined) continue; // the namespace-wide defaults
      const [target] = podsSelectedBy(selected);
      assert.ok(target, `NetworkPolicy ${policy.metadata.name} selects nothing`);
      for (const rule of spec.ingress ?? []) {
        for (const port of rule.ports ?? [])
          assert.ok(hasPort(target, port.port), `${policy.metadata.name}: ${port.port}`);
        for (const peer of rule.from ?? []) {
          if (peer.podSelector)
            assert.equal(podsSelectedBy(peer.podSelector.matchLabels).length, 1);
        }
      }
      for (const rule of spec.egress ?? []) {
        for (const peer of rule.to ?? []) {
          if (!peer.podSelector) continue;
          const [destination] = podsSelectedBy(peer.podSelector.matchLabels);
          assert.ok(destination, `${policy.metadata.name}: egress to nothing`);
          for (const port of rule.ports ?? [])
            assert.ok(hasPort(destination, port.port), `${policy.metadata.name} → ${port.port}`);
        }
      }
    }
    const scaled = find(all, 'ScaledObject', 'converter').spec as {
      scaleTargetRef: { name: string };
      triggers: {
        type: string;
        metadata: Record<string, string>;
        authenticationRef: { name: string };
      }[];
    };
    assert.equal(workload(scaled.scaleTargetRef.name).kind, 'Deployment');
    for (const trigger of scaled.triggers) {
      const auth = find(all, 'TriggerAuthentication', trigger.authenticationRef.name).spec as {
        secretTargetRef: { parameter: string; name: string; key: string }[];
      };
      for (const ref of auth.secretTargetRef) {
        assert.ok(dataOf(find(all, 'Secret', ref.name))[ref.key], `${ref.name}/${ref.key}`);
      }
    }
    const hpa = find(all, 'HorizontalPodAutoscaler', 'converter').spec as {
      scaleTargetRef: { kind: string; name: string };
    };
    assert.equal(workload(hpa.scaleTargetRef.name).kind, hpa.scaleTargetRef.kind);
  });
});

describe('each service gets the environment its own config schema accepts', () => {
  for (const [name, service] of Object.entries(SERVICES)) {
    it(`${name}: every variable known, the whole set accepted`, () => {
      const fromManifests = serviceEnv(name, false);
      const unknown = Object.keys(fromManifests).filter(
        (key) => !service.variables.includes(key) && !RUNTIME_VARIABLES.includes(key),
      );
      assert.deepEqual(unknown, [], `${name} does not read ${unknown.join(', ')}`);
      assert.doesNotThrow(() => service.load(serviceEnv(name)));
    });
  }

  it('gives node the options scripts/lib/services.sh runs the services with locally', async () => {
    for (const name of Object.keys(SERVICES)) {
      const { stdout } = await run('bash', [
        '-c',
        `source "${ROOT}/scripts/lib/services.sh" && service_node_options ${name}`,
      ]);
      assert.equal(serviceEnv(name).NODE_OPTIONS ?? '', stdout.trim(), name);
    }
  });

  it('lets every service finish its shutdown within terminationGracePeriodSeconds', () => {
    for (const [name, service] of Object.entries(SERVICES)) {
      if (service.shutdownBudgetMs === undefined) continue;
      const w = workload(name);
      const preStopMs = (mainContainer(w).lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
      const graceMs = (w.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
      assert.ok(
        graceMs >= preStopMs + service.shutdownBudgetMs(serviceEnv(name)),
        `${name}: ${graceMs} ms of grace for ${preStopMs} ms of preStop and its shutdown`,
      );
    }
  });

  it('connects the services to the servers and to each other by their Service names', () => {
    const port = (service: string, name: string) =>
      (
        find(all, 'Service', service).spec as { ports: { name: string; port: number }[] }
      ).ports.find((p) => p.name === name)?.port;
    for (const name of ['gateway', 'converter', 'notification']) {
      const env = serviceEnv(name);
      const mongo = new URL(env.MONGO_URL ?? '');
      assert.equal(`${mongo.hostname}:${mongo.port}`, `mongodb:${port('mongodb', 'mongodb')}`);
      const amqp = new URL(env.AMQP_URL ?? '');
      assert.equal(`${amqp.hostname}:${amqp.port}`, `rabbitmq:${port('rabbitmq', 'amqp')}`);
    }
    const authUrl = new URL(serviceEnv('gateway').AUTH_URL ?? '');
    assert.equal(`${authUrl.hostname}:${authUrl.port}`, `auth:${port('auth', 'http')}`);
    const auth = serviceEnv('auth');
    assert.equal(auth.MYSQL_HOST, 'mysql');
    assert.equal(Number(auth.MYSQL_PORT), port('mysql', 'mysql'));
    const mysqlEnv = containerEnv(all, mainContainer(workload('mysql')));
    assert.equal(auth.MYSQL_DATABASE, mysqlEnv.MYSQL_DATABASE);
    assert.equal(auth.MYSQL_USER, mysqlEnv.MYSQL_USER);
    const smtp = serviceEnv('notification');
    assert.equal(`${smtp.SMTP_HOST}:${smtp.SMTP_PORT}`, `maildev:${port('maildev', 'smtp')}`);
    const keda = new URL(dataOf(find(all, 'Secret', 'rabbitmq')).KEDA_HOST ?? '');
    assert.equal(keda.protocol, 'http:');
    assert.equal(keda.hostname.split('.')[0], 'rabbitmq');
    assert.equal(Number(keda.port), port('rabbitmq', 'management'));
  });

  it('creates the MongoDB user with the databases the services use', () => {
    const script = dataOf(find(all, 'ConfigMap', 'mongodb-init'))['create-app-user.js'] ?? '';
    const databases = new Set<string>();
    for (const name of ['gateway', 'converter', 'notification']) {
      const env = serviceEnv(name);
      const config = SERVICES[name]!.load(env) as { mongo: Record<string, string> };
      for (const [key, value] of Object.entries(config.mongo)) {
        if (key.endsWith('Database')) databases.add(value);
      }
    }
    for (const database of databases) {
      assert.match(script, new RegExp(`role: 'readWrite', db: '${database}'`), database);
    }
  });

  it('sizes the Ingress for the largest upload and its time limit', () => {
    const gateway = loadGatewayConfig(serviceEnv('gateway'));
    const annotations = find(all, 'Ingress', 'gateway').metadata.annotations ?? {};
    const body = /^(\d+)m$/.exec(annotations['nginx.ingress.kubernetes.io/proxy-body-size'] ?? '');
    assert.ok(body, 'proxy-body-size in MiB (nginx "m")');
    const bodyBytes = Number(body[1]) * 2 ** 20;
    // Above the gateway's limit, so the gateway answers 413 itself; not by much.
    assert.ok(
      bodyBytes > gateway.upload.maxBytes && bodyBytes <= gateway.upload.maxBytes + 2 ** 21,
    );
    assert.equal(annotations['nginx.ingress.kubernetes.io/proxy-request-buffering'], 'off');
    for (const key of ['proxy-read-timeout', 'proxy-send-timeout']) {
      const seconds = Number(annotations[`nginx.ingress.kubernetes.io/${key}`]);
      assert.ok(seconds * 1000 >= gateway.http.uploadTimeoutMs, key);
    }
    const notification = loadNotificationConfig(serviceEnv('notification'));
    assert.equal(new URL(notification.links.publicBaseUrl).hostname, 'mp3converter.com');
  });

  it("keeps the converter's consumer timeout equal to RabbitMQ's, and its temp files on an emptyDir", () => {
    const conf = dataOf(find(all, 'ConfigMap', 'rabbitmq'))['20-mp3converter.conf'] ?? '';
    const brokerTimeout = /^consumer_timeout = (\d+)$/m.exec(conf)?.[1];
    assert.equal(serviceEnv('converter').AMQP_CONSUMER_TIMEOUT_MS, brokerTimeout);
    const memory = /^total_memory_available_override_value = (\d+)$/m.exec(conf)?.[1];
    const limit = mainContainer(workload('rabbitmq')).resources?.limits?.memory ?? '';
    assert.equal(Number(memory), bytesOf(limit), 'RabbitMQ sizes its memory alarm from its limit');
    const converter = workload('converter');
    const tempDir = loadConverterConfig(serviceEnv('converter')).tempDir;
    const mount = mainContainer(converter).volumeMounts?.find((m) =>
      tempDir.startsWith(`${m.mountPath}/`),
    );
    assert.ok(mount, `TEMP_DIR ${tempDir} is on no volume`);
    const volume = converter.spec.template.spec.volumes?.find((v) => v.name === mount.name);
    assert.ok(volume?.emptyDir?.sizeLimit, 'an emptyDir with a size limit');
  });
});

describe('pods and images', () => {
  const RESTRICTED_CAPABILITIES = ['ALL'];

  for (const w of workloads(all)) {
    it(`${w.metadata.name}: restricted pod security, requests, a memory limit, probes`, () => {
      const pod = w.spec.template.spec;
      assert.equal(pod.automountServiceAccountToken, false, 'no API token mounted');
      assert.equal(pod.securityContext?.runAsNonRoot, true);
      assert.ok((pod.securityContext.runAsUser ?? 0) > 0, 'a numeric non-root user');
      assert.equal(pod.securityContext.seccompProfile?.type, 'RuntimeDefault');
      assert.notEqual(pod.hostNetwork, true);
      assert.notEqual(pod.hostPID, true);
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const security = c.securityContext;
        assert.equal(security?.allowPrivilegeEscalation, false, c.name);
        assert.notEqual(security.privileged, true, c.name);
        assert.deepEqual(security.capabilities?.drop, RESTRICTED_CAPABILITIES, c.name);
        assert.equal(security.capabilities.add, undefined, c.name);
        assert.ok(c.resources?.requests?.cpu, `${c.name}: cpu request`);
        assert.ok(c.resources.requests.memory, `${c.name}: memory request`);
        const limit = c.resources.limits?.memory;
        assert.ok(limit, `${c.name}: memory limit`);
        assert.ok(bytesOf(limit) >= bytesOf(c.resources.requests.memory), 'limit ≥ request');
        assert.ok(c.readinessProbe && c.livenessProbe, `${c.name}: readiness and liveness probes`);
        // Pinned: an exact version, never a floating tag.
        assert.match(c.image, /:\d+\.\d+\.\d+(-[a-z0-9.-]+)?$/, `${c.name}: ${c.image}`);
      }
    });
  }

  for (const name of Object.keys(SERVICES)) {
    it(`${name}: health probes, read-only root, /tmp on an emptyDir, a PDB and a NetworkPolicy`, async () => {
      const w = workload(name);
      const c = mainContainer(w);
      assert.equal(c.startupProbe?.httpGet?.path, '/healthz');
      assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
      assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
      const env = serviceEnv(name);
      const portOf = (probe: typeof c.readinessProbe) =>
        c.ports?.find((p) => p.name === probe?.httpGet?.port)?.containerPort;
      assert.equal(
        String(portOf(c.readinessProbe)),
        env.PORT,
        'probes reach the port the service listens on',
      );
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
      const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
      assert.ok(tmp, '/tmp is mounted');
      assert.ok(w.spec.template.spec.volumes?.find((v) => v.name === tmp.name)?.emptyDir);
      const labels = w.spec.template.metadata.labels;
      const pdbs = byKind(all, 'PodDisruptionBudget').filter((p) =>
        selects((p.spec as { selector: { matchLabels: Labels } }).selector.matchLabels, labels),
      );
      assert.equal(pdbs.length, 1, 'one PodDisruptionBudget');
      const policies = byKind(all, 'NetworkPolicy').filter((p) => {
        const selector = (p.spec as { podSelector: { matchLabels?: Labels } }).podSelector
          .matchLabels;
        return selector !== undefined && selects(selector, labels);
      });
      assert.equal(policies.length, 1, 'one NetworkPolicy of its own');
      const { version } = JSON.parse(
        await readFile(join(ROOT, 'services', name, 'package.json'), 'utf8'),
      ) as { version: string };
      assert.equal(c.image, `mp3converter/${name}:${version}`, 'the image scripts/minikube builds');
      assert.equal(c.imagePullPolicy, 'IfNotPresent', 'built into Minikube, never pulled');
    });
  }
});

describe('docker/Dockerfile', () => {
  let dockerfile: Dockerfile;
  let text: string;

  before(async () => {
    dockerfile = await readDockerfile();
    text = await readFile(join(ROOT, 'docker/Dockerfile'), 'utf8');
  });

  /** The instructions of `target` and the stages under it, as `KEYWORD args` lines. */
  function lines(stages: Stage[]): string[] {
    return stages.flatMap((stage) => stage.instructions.map((i) => `${i.keyword} ${i.args}`));
  }

  it('starts from the pinned node:24 bookworm-slim of the Node.js the scripts install', async () => {
    const common = await readFile(join(ROOT, 'scripts/lib/common.sh'), 'utf8');
    const nodeVersion = /^NODE_VERSION=(\S+)$/m.exec(common)?.[1];
    assert.match(nodeVersion ?? '', /^24\.\d+\.\d+$/);
    assert.equal(dockerfile.args.NODE_IMAGE, `node:${nodeVersion}-bookworm-slim`);
    for (const stage of dockerfile.stages.values()) {
      const base = stage.base;
      assert.ok(base === '${NODE_IMAGE}' || dockerfile.stages.has(base), `unpinned base ${base}`);
    }
  });

  for (const name of Object.keys(SERVICES)) {
    it(`${name}: only its production dependencies, a numeric non-root USER, tini, node started directly`, () => {
      const chain = stageChain(dockerfile, name);
      const own = lines(chain.slice(-1));
      const all = lines(chain);
      assert.ok(own.includes(`COPY --from=${name}-install /app /app`), 'copies its own install');
      assert.ok(
        lines(stageChain(dockerfile, `${name}-install`)).includes(
          `RUN pnpm install --offline --frozen-lockfile --prod --filter-prod "@mp3converter/${name}..."`,
        ),
        'installs its production dependencies only',
      );
      const user = own.map((line) => /^USER (\d+):(\d+)$/.exec(line)).find((m) => m !== null);
      assert.ok(user && Number(user[1]) > 0 && Number(user[2]) > 0, 'USER uid:gid, not root');
      assert.ok(own.includes(`WORKDIR /app/services/${name}`));
      assert.ok(
        own.includes(
          'CMD ["node", "--no-strip-types", "--conditions=mp3converter-compiled", "src/main.js"]',
        ),
        'node started directly, on the compiled JavaScript',
      );
      assert.equal(
        lines(stageChain(dockerfile, `${name}-install`)).at(-2),
        'COPY --from=compile /app/dist/ ./',
        'the compiled files beside their sources, before the install',
      );
      assert.ok(all.includes('ENTRYPOINT ["/usr/bin/tini", "--"]'), 'tini as PID 1');
      assert.ok(all.includes('ENV NODE_ENV=production'));
      const exposed = own.map((line) => /^EXPOSE (\d+)$/.exec(line)?.[1]).find(Boolean);
      assert.equal(exposed, serviceEnv(name).PORT, 'EXPOSE is the port the manifest sets');
      const installsFfmpeg = own.some((line) => /apt-get install .*\bffmpeg\b/.test(line));
      assert.equal(installsFfmpeg, name === 'converter', "Debian's ffmpeg in the converter only");
    });
  }

  it('holds no secrets, and the build context leaves out what images must not carry', async () => {
    for (const stage of dockerfile.stages.values()) {
      for (const { keyword, args } of stage.instructions) {
        if (keyword !== 'ENV' && keyword !== 'ARG') continue;
        assert.doesNotMatch(args, /(PASSWORD|SECRET|TOKEN|_KEY)\b/i, `${keyword} ${args}`);
      }
    }
    assert.doesNotMatch(text, /^(COPY|ADD) .*\.env\b/m);
    const ignored = (await readFile(join(ROOT, '.dockerignore'), 'utf8')).split('\n');
    for (const entry of ['**/node_modules', '.git', '.local', '.env', '**/test']) {
      assert.ok(ignored.includes(entry), `.dockerignore lacks ${entry}`);
    }
  });
});
