import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SERVICES_SH = fileURLToPath(new URL('../../../scripts/lib/services.sh', import.meta.url));

/**
 * The NODE_OPTIONS `./scripts/up` (and the Kubernetes manifests) give `service`, read from
 * scripts/lib/services.sh, so tests and benchmarks measure the process as it is deployed.
 */
export function serviceNodeOptions(service: string): string {
  return execFileSync(
    'bash',
    ['-c', 'source "$1" && service_node_options "$2"', 'bash', SERVICES_SH, service],
    { encoding: 'utf8' },
  ).trim();
}
