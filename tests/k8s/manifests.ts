/**
 * Reads k8s/ as the cluster would: every object of every manifest, the environment each
 * container gets from its ConfigMaps and Secrets, the objects that select a pod.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse } from 'yaml';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const K8S_DIR = join(ROOT, 'k8s');
export const NAMESPACE = 'mp3converter';

export type Labels = Record<string, string>;

export interface Metadata {
  name: string;
  namespace?: string;
  labels?: Labels;
  annotations?: Record<string, string>;
}

export interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef };
}

export interface EnvFrom {
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}

export interface Probe {
  httpGet?: { path: string; port: string | number };
  tcpSocket?: { port: string | number };
  exec?: { command: string[] };
  periodSeconds?: number;
  failureThreshold?: number;
}

export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: EnvFrom[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    privileged?: boolean;
    runAsNonRoot?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
}

export interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string };
  configMap?: { name: string };
  secret?: { secretName: string };
}

export interface PodSpec {
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  hostNetwork?: boolean;
  hostPID?: boolean;
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    runAsGroup?: number;
    seccompProfile?: { type: string };
  };
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
}

export interface Workload {
  apiVersion: string;
  kind: 'Deployment' | 'StatefulSet';
  metadata: Metadata;
  spec: {
    replicas?: number;
    serviceName?: string;
    selector: { matchLabels: Labels };
    template: { metadata: { labels: Labels }; spec: PodSpec };
  };
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  /** Read through the narrower interfaces (Workload...) by the checks that need them. */
  spec?: unknown;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  /** Relative to the repository root. */
  file: string;
}

/** The files `kubectl apply -k k8s/` applies, in its order. */
export function kustomizationResources(): string[] {
  const kustomization = parse(readFileSync(join(K8S_DIR, 'kustomization.yaml'), 'utf8')) as {
    resources: string[];
  };
  return kustomization.resources;
}

/** Every YAML file under k8s/ but the kustomization, relative to k8s/. */
export function manifestFiles(): string[] {
  return readdirSync(K8S_DIR, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml')
    .sort();
}

export function loadManifests(files: readonly string[]): Manifest[] {
  const manifests: Manifest[] = [];
  for (const file of files) {
    const path = join(K8S_DIR, file);
    for (const document of parseAllDocuments(readFileSync(path, 'utf8'))) {
      if (document.errors.length > 0) {
        throw new Error(`${file}: ${document.errors.map((e) => e.message).join('; ')}`);
      }
      const object = document.toJS() as Omit<Manifest, 'file'> | null;
      if (object !== null) manifests.push({ ...object, file: relative(ROOT, path) });
    }
  }
  return manifests;
}

export function byKind<T = Manifest>(manifests: readonly Manifest[], kind: string): T[] {
  return manifests.filter((m) => m.kind === kind) as T[];
}

export function find(manifests: readonly Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} named ${name} in k8s/`);
  return found;
}

export function workloads(manifests: readonly Manifest[]): Workload[] {
  return manifests.filter(
    (m) => m.kind === 'Deployment' || m.kind === 'StatefulSet',
  ) as unknown as Workload[];
}

export function selects(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** The key-value pairs of a ConfigMap or Secret, as the container sees them. */
export function dataOf(object: Manifest): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(object.data ?? {})) {
    values[key] = object.kind === 'Secret' ? Buffer.from(value, 'base64').toString('utf8') : value;
  }
  return { ...values, ...object.stringData };
}

/**
 * The environment a container starts with: `baseEnv` (what its image sets), then envFrom
 * in order, then env, as the kubelet builds it. Throws on a reference to a missing
 * ConfigMap, Secret or key unless the reference is optional.
 */
export function containerEnv(
  manifests: readonly Manifest[],
  container: Container,
  baseEnv: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = { ...baseEnv };
  for (const source of container.envFrom ?? []) {
    const ref = source.configMapRef ?? source.secretRef;
    const kind = source.configMapRef === undefined ? 'Secret' : 'ConfigMap';
    if (ref === undefined) throw new Error(`${container.name}: an envFrom with no reference`);
    const object = manifests.find((m) => m.kind === kind && m.metadata.name === ref.name);
    if (object === undefined) {
      if (ref.optional === true) continue;
      throw new Error(`${container.name}: envFrom names the missing ${kind} ${ref.name}`);
    }
    Object.assign(env, dataOf(object));
  }
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) {
      env[variable.name] = variable.value;
      continue;
    }
    const ref = variable.valueFrom?.secretKeyRef ?? variable.valueFrom?.configMapKeyRef;
    const kind = variable.valueFrom?.secretKeyRef === undefined ? 'ConfigMap' : 'Secret';
    if (ref === undefined) throw new Error(`${container.name}: ${variable.name} has no value`);
    const object = manifests.find((m) => m.kind === kind && m.metadata.name === ref.name);
    const value = object === undefined ? undefined : dataOf(object)[ref.key];
    if (value === undefined) {
      if (ref.optional === true) continue;
      throw new Error(
        `${container.name}: ${variable.name} comes from the missing ${kind} key ${ref.name}/${ref.key}`,
      );
    }
    env[variable.name] = value;
  }
  return env;
}

/** A Kubernetes quantity of bytes: "512Mi", "1Gi", "1073741824". */
export function bytesOf(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity);
  if (match === null) throw new Error(`not a byte quantity: ${quantity}`);
  const suffix = match[2] as 'Ki' | 'Mi' | 'Gi' | undefined;
  const unit = suffix === undefined ? 1 : { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[suffix];
  return Number(match[1]) * unit;
}
