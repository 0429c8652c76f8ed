/**
 * docker/Dockerfile, read and partly run without Docker: the stages that assemble an
 * image's /app (COPY from the build context with .dockerignore applied, RUN, ENV,
 * WORKDIR) are carried out in a directory of the test's, with the commands exactly as
 * written, so that the test can start the services from what the image would contain.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, posix, relative } from 'node:path';
import { promisify } from 'node:util';
import dockerignore from '@balena/dockerignore';
import { servicePath } from '@mp3converter/testkit';
import { ROOT } from './manifests.ts';

const run = promisify(execFile);

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  name: string;
  /** An image (`${NODE_IMAGE}`) or an earlier stage. */
  base: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs before the first FROM, with their defaults. */
  args: Record<string, string>;
  stages: Map<string, Stage>;
}

export async function readDockerfile(path = join(ROOT, 'docker/Dockerfile')): Promise<Dockerfile> {
  const text = await readFile(path, 'utf8');
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const args: Record<string, string> = {};
  const stages = new Map<string, Stage>();
  let current: Stage | undefined;
  for (const line of lines) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword === 'FROM') {
      const from = /^(\S+) AS (\S+)$/.exec(rest);
      if (from === null) throw new Error(`a stage without a name: FROM ${rest}`);
      current = { name: from[2]!, base: from[1]!, instructions: [] };
      stages.set(current.name, current);
    } else if (current === undefined) {
      const arg = /^ARG (\w+)=(\S+)$/.exec(line);
      if (arg === null) throw new Error(`before the first FROM: ${line}`);
      args[arg[1]!] = arg[2]!;
    } else {
      current.instructions.push({ keyword, args: rest.replace(/\s+/g, ' ') });
    }
  }
  return { args, stages };
}

/** The stages `target` is built on, the first FROM an image, `target` last. */
export function stageChain(dockerfile: Dockerfile, target: string): Stage[] {
  const chain: Stage[] = [];
  let stage = dockerfile.stages.get(target);
  while (stage !== undefined) {
    chain.unshift(stage);
    stage = dockerfile.stages.get(stage.base);
  }
  if (chain.length === 0) throw new Error(`no stage ${target}`);
  return chain;
}

/** The key=value pairs of an ENV instruction (no quoting: the Dockerfile uses none). */
export function envPairs(args: string): [string, string][] {
  return args.split(' ').map((pair) => {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`ENV ${args}: only KEY=value pairs are understood`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  });
}

export interface BuildOptions {
  /** Where the image's filesystem root is mapped: `/app` becomes `<root>/app`. */
  root: string;
  /**
   * Where the stages named by `COPY --from` are built, each in a folder of its name; a
   * stage already there (built for another target) is used again.
   */
  stagesDir: string;
  /** The pnpm store to use instead of the image's (the machine's warm one). */
  storeDir: string;
  /** Runs a RUN instruction the test machine must not run as written (installing tools). */
  substitute?: (command: string) => Promise<boolean>;
}

/**
 * Carries out the stages that lead to `target` under `options.root`, and first the stages
 * it copies from. Returns the stage's ENV.
 */
export async function buildStage(
  dockerfile: Dockerfile,
  target: string,
  options: BuildOptions,
): Promise<Record<string, string>> {
  // A CommonJS module whose function is also its `default`, the export its types describe.
  const ignored = dockerignore
    .default()
    .add((await readFile(join(ROOT, '.dockerignore'), 'utf8')).split('\n'));
  const env: Record<string, string> = {};
  let workdir = '/';
  const inRoot = (path: string) => join(options.root, posix.resolve(workdir, path));
  for (const stage of stageChain(dockerfile, target)) {
    for (const { keyword, args } of stage.instructions) {
      switch (keyword) {
        case 'ENV':
          for (const [key, value] of envPairs(args)) env[key] = value;
          break;
        case 'WORKDIR':
          workdir = posix.resolve(workdir, args);
          await mkdir(inRoot('.'), { recursive: true });
          break;
        case 'COPY': {
          const parts = args.split(' ');
          const stageFrom = /^--from=(\S+)$/.exec(parts[0] ?? '')?.[1];
          if (stageFrom !== undefined) parts.shift();
          else if (parts[0]?.startsWith('--')) throw new Error(`COPY ${args}: not understood here`);
          const context =
            stageFrom === undefined ? ROOT : await builtStage(dockerfile, stageFrom, options);
          const destination = inRoot(parts.pop() ?? '.');
          for (const source of parts) {
            const from = stageFrom === undefined ? join(ROOT, source) : join(context, source);
            const into = (await stat(from)).isDirectory()
              ? destination
              : join(destination, posix.basename(source));
            await cp(from, into, {
              recursive: true,
              filter: (path) => {
                if (stageFrom !== undefined) return true; // .dockerignore is for the context
                const inContext = relative(ROOT, path);
                return inContext === '' || isAbsolute(inContext) || !ignored.ignores(inContext);
              },
            });
          }
          break;
        }
        case 'RUN':
          if (await options.substitute?.(args)) break;
          await run('/bin/sh', ['-c', args], {
            cwd: inRoot('.'),
            env: {
              PATH: servicePath,
              HOME: homedir(),
              ...env,
              npm_config_store_dir: options.storeDir,
            },
            maxBuffer: 16 << 20,
          });
          break;
        default:
          throw new Error(`${keyword} in stage ${stage.name}: not understood here`);
      }
    }
  }
  return env;
}

/** The root of `stage` built under `options.stagesDir`, built now unless it is there. */
async function builtStage(
  dockerfile: Dockerfile,
  stage: string,
  options: BuildOptions,
): Promise<string> {
  const root = join(options.stagesDir, stage);
  const done = join(options.stagesDir, `${stage}.built`);
  if (!existsSync(done)) {
    await buildStage(dockerfile, stage, { ...options, root });
    await writeFile(done, '');
  }
  return root;
}
