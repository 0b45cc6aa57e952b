import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The carbonedge package root (the directory with package.json), found by walking up from this
 * module, so it works from the sources (vitest) and from dist/ (the CLI). Data shipped with the
 * package (device profiles, factor library, MQTT contract, example rules) is found from here.
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return (root = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`carbonedge package root (package.json) not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** Absolute path of a file or directory shipped with the package, e.g. packagePath('device-profiles'). */
export function packagePath(...segments: string[]): string {
  return path.join(packageRoot(), ...segments);
}
