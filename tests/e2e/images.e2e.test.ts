// What the images contain, run: for each service the Dockerfile's own stages (COPY with
// .dockerignore, `pnpm fetch`, the compile, the filtered production install) are carried
// out in a directory as Docker would, and the four services are started from those copies
// as the images' CMD starts them, in production mode, to convert an upload end to end.
// Docker itself cannot run here; the image's base (Node, tini, Debian's ffmpeg) is what
// the test machine has too.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { generateMedia, probeMedia } from '@mp3converter/testkit';
import { buildStage, envPairs, readDockerfile, stageChain } from '../k8s/dockerfile.ts';
import { ROOT } from '../k8s/manifests.ts';
import { EndToEndSystem, readBytes, type ServiceName } from './system.ts';

const run = promisify(execFile);
const SERVICES: ServiceName[] = ['auth', 'gateway', 'converter', 'notification'];

let dir: string;
let system: EndToEndSystem | undefined;

/** What each image's final stage sets: its ENV, and how it starts (WORKDIR, CMD). */
interface Image {
  env: Record<string, string>;
  workdir: string;
  command: string[];
}
const images = new Map<ServiceName, Image>();

/** Each image's /app, built as the Dockerfile builds it. */
function appOf(service: ServiceName): string {
  return join(dir, service, 'app');
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mp3test-images-'));
  const dockerfile = await readDockerfile();
  const storeDir = (await run('pnpm', ['store', 'path'])).stdout.trim();
  const { packageManager } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
    packageManager: string;
  };
  const pnpmVersion = (await run('pnpm', ['--version'])).stdout.trim();
  const stagesDir = join(dir, 'stages');
  for (const service of SERVICES) {
    await buildStage(dockerfile, `${service}-install`, {
      root: join(dir, service),
      stagesDir,
      storeDir,
      // Corepack would install the pnpm of packageManager; the test machine has that one.
      substitute: (command) => {
        if (command !== 'corepack enable pnpm') return Promise.resolve(false);
        assert.equal(packageManager, `pnpm@${pnpmVersion}`);
        return Promise.resolve(true);
      },
    });
    const image: Image = { env: {}, workdir: '/', command: [] };
    for (const stage of stageChain(dockerfile, service)) {
      for (const { keyword, args } of stage.instructions) {
        if (keyword === 'ENV') Object.assign(image.env, Object.fromEntries(envPairs(args)));
        if (keyword === 'WORKDIR') image.workdir = args;
        if (keyword === 'CMD') image.command = JSON.parse(args) as string[];
      }
    }
    images.set(service, image);
  }
  // The compile stage's tree is not part of any image.
  await rm(stagesDir, { recursive: true, force: true });
});

after(async () => {
  try {
    await system?.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

describe('the images', () => {
  it("hold each service's production dependencies and nothing else", async () => {
    for (const service of SERVICES) {
      const packages = await readdir(join(appOf(service), 'node_modules/.pnpm'));
      const has = (name: string) => packages.some((entry) => entry.startsWith(`${name}@`));
      for (const tool of ['typescript', 'eslint', 'prettier', 'maildev', 'smtp-server']) {
        assert.equal(has(tool), false, `${service} has the dev dependency ${tool}`);
      }
      assert.equal(has('@node-rs+argon2'), service === 'auth', `${service}: argon2`);
      assert.equal(has('nodemailer'), service === 'notification', `${service}: nodemailer`);
      assert.equal(
        has('express'),
        service === 'auth' || service === 'gateway',
        `${service}: express`,
      );
      for (const other of SERVICES) {
        const modules = existsSync(join(appOf(service), 'services', other, 'node_modules'));
        assert.equal(modules, other === service, `${service}'s image installs ${other}`);
      }
      assert.equal(existsSync(join(appOf(service), 'services', service, 'test')), false);
      // Compiled beside the sources: the service and the shared packages.
      assert.ok(existsSync(join(appOf(service), 'services', service, 'src/main.js')), service);
      assert.ok(existsSync(join(appOf(service), 'packages/config/src/index.js')), service);
    }
    assert.ok(existsSync(join(appOf('auth'), 'services/auth/migrations/001.do.create-users.sql')));
  });

  it('run their compiled JavaScript in production mode and convert an upload end to end', async () => {
    const launch = (service: ServiceName) => {
      const image = images.get(service);
      assert.ok(image, service);
      // WORKDIR /app/services/<service>; CMD ["node", ...Node's arguments].
      assert.equal(image.workdir, `/app/services/${service}`);
      assert.equal(image.command[0], 'node');
      assert.equal(image.env.NODE_ENV, 'production');
      return { root: join(appOf(service), 'services'), args: image.command.slice(1) };
    };
    system = await EndToEndSystem.start({
      launch,
      env: Object.fromEntries(SERVICES.map((service) => [service, images.get(service)?.env ?? {}])),
    });
    for (const service of SERVICES) {
      // No TypeScript was loaded: type stripping is off in the image.
      const args = images.get(service)?.command ?? [];
      assert.ok(args.includes('--no-strip-types') && args.at(-1) === 'src/main.js', service);
    }
    const clip = join(dir, 'clip.mp4');
    await generateMedia(clip, { container: 'mp4', seconds: 4 });
    const user = await system.signUp();
    const accepted = await system.accept(user, await readBytes(clip));
    const [job] = await system.assertSettled([accepted]);
    assert.equal(job?.status, 'done');
    const download = await system.api.as(user.token).download(String(job.mp3?.fid));
    const saved = join(dir, 'clip.mp3');
    await writeFile(saved, download.body);
    const mp3 = await probeMedia(saved);
    assert.equal(mp3.formatName, 'mp3');
    assert.ok(Math.abs(mp3.durationSeconds - 4) < 0.2, `duration ${mp3.durationSeconds}`);

    // The web page and its assets are in the gateway's image (they are not compiled files).
    const page = await fetch(`${system.url}/`);
    assert.equal(page.status, 200);
    const links = [...(await page.text()).matchAll(/(?:href|src)="(\/assets\/[^"]+)"/g)];
    assert.equal(links.length, 3);
    for (const [, link] of links) {
      const asset = await fetch(`${system.url}${String(link)}`);
      assert.equal(asset.status, 200, link);
      await asset.arrayBuffer();
    }
  });
});
