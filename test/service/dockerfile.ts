/** The final stage of a Dockerfile, parsed enough to rebuild its file tree and run its entrypoint. */
import { readFileSync } from 'node:fs';

export interface FinalStage {
  workdir: string;
  user?: string;
  env: Record<string, string>;
  /** COPY --from=<stage> SRC DEST, DEST absolute. */
  copies: { from: string; src: string; dest: string }[];
  volumes: string[];
  entrypoint: string[];
  cmd: string[];
  healthcheck?: string[];
}

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!cur && (line.startsWith('#') || !line)) continue;
    if (line.startsWith('#')) continue;
    cur += (cur ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (!line.endsWith('\\')) {
      out.push(cur);
      cur = '';
    }
  }
  return out;
}

export function finalStage(file: string): FinalStage {
  const all = instructions(readFileSync(file, 'utf8'));
  const last = all.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
  const stage: FinalStage = { workdir: '/', env: {}, copies: [], volumes: [], entrypoint: [], cmd: [] };
  const abs = (p: string) => (p.startsWith('/') ? p : `${stage.workdir.replace(/\/$/, '')}/${p.replace(/^\.\//, '')}`);
  for (const ins of all.slice(last + 1)) {
    const [op, ...rest] = ins.split(/\s+/);
    const arg = rest.join(' ');
    switch (op!.toUpperCase()) {
      case 'WORKDIR':
        stage.workdir = abs(arg);
        break;
      case 'USER':
        stage.user = arg;
        break;
      case 'ENV':
        for (const m of arg.matchAll(/(\w+)=(\S+)/g)) stage.env[m[1]!] = m[2]!;
        break;
      case 'COPY': {
        const from = /--from=(\S+)/.exec(arg)?.[1];
        const parts = rest.filter((p) => !p.startsWith('--'));
        if (from) stage.copies.push({ from, src: parts[0]!, dest: abs(parts[1]!) });
        break;
      }
      case 'VOLUME':
        stage.volumes.push(...(JSON.parse(arg) as string[]));
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = JSON.parse(arg) as string[];
        break;
      case 'CMD':
        stage.cmd = JSON.parse(arg) as string[];
        break;
      case 'HEALTHCHECK':
        stage.healthcheck = JSON.parse(arg.slice(arg.indexOf('CMD') + 3).trim()) as string[];
        break;
    }
  }
  return stage;
}
