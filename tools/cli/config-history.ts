/**
 * The site configs a gateway has run, kept in `<dataDir>/config-history/`: each config text as
 * `<seq>-<hash>.yaml`, and `index.json` with what each entry is (source, when, hash) and which one
 * is active. Every file is written temp -> fsync -> rename, so a power cut leaves the previous
 * state loadable. The newest `keep` entries (default 10) are kept, the active one always.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../runtime/config/atomic-write.js';

export const CONFIG_HISTORY_DIR = 'config-history';
export const DEFAULT_KEEP = 10;

export type ConfigSource = 'local' | 'remote' | 'rollback';

export interface ConfigEntry {
  /** Sequence number, zero-padded: `000007`. */
  id: string;
  /** sha256 of the config text, hex (the status and answers carry its first 16 characters). */
  sha256: string;
  file: string;
  savedAt: string;
  source: ConfigSource;
  transaction?: string | number;
  /** What became of it: applied and running, rolled back (with why), or refused at apply. */
  outcome?: 'applied' | 'rolled-back' | 'pending';
  reason?: string;
}

interface Index {
  version: 1;
  active?: string;
  entries: ConfigEntry[];
}

export const configHash = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
export const shortHash = (sha256: string): string => sha256.slice(0, 16);

export class ConfigHistory {
  readonly dir: string;

  constructor(
    dataDir: string,
    private readonly keep = DEFAULT_KEEP,
  ) {
    this.dir = path.join(dataDir, CONFIG_HISTORY_DIR);
  }

  private index(): Index {
    const f = path.join(this.dir, 'index.json');
    if (!existsSync(f)) return { version: 1, entries: [] };
    return JSON.parse(readFileSync(f, 'utf8')) as Index;
  }

  private save(ix: Index): void {
    mkdirSync(this.dir, { recursive: true });
    writeFileAtomic(path.join(this.dir, 'index.json'), `${JSON.stringify(ix, null, 2)}\n`);
  }

  entries(): ConfigEntry[] {
    return this.index().entries;
  }

  active(): ConfigEntry | undefined {
    const ix = this.index();
    return ix.entries.find((e) => e.id === ix.active);
  }

  get(id: string): ConfigEntry | undefined {
    return this.index().entries.find((e) => e.id === id || e.id === id.padStart(6, '0'));
  }

  text(e: ConfigEntry): string {
    return readFileSync(path.join(this.dir, e.file), 'utf8');
  }

  /** Record a config text (the running one at first start, a staged remote one, a rollback target). */
  add(text: string, source: ConfigSource, extra: Pick<ConfigEntry, 'transaction' | 'outcome'> = {}, now = new Date()): ConfigEntry {
    const ix = this.index();
    const seq = ix.entries.reduce((m, e) => Math.max(m, Number(e.id)), 0) + 1;
    const sha256 = configHash(text);
    const id = String(seq).padStart(6, '0');
    const file = `${id}-${shortHash(sha256)}.yaml`;
    mkdirSync(this.dir, { recursive: true });
    writeFileAtomic(path.join(this.dir, file), text);
    const entry: ConfigEntry = { id, sha256, file, savedAt: now.toISOString(), source, ...extra };
    ix.entries.push(entry);
    this.prune(ix);
    this.save(ix);
    return entry;
  }

  /** Mark `id` active (and record an outcome on any entry). */
  update(id: string, change: { active?: boolean; outcome?: ConfigEntry['outcome']; reason?: string }): void {
    const ix = this.index();
    const e = ix.entries.find((x) => x.id === id);
    if (!e) return;
    if (change.outcome) e.outcome = change.outcome;
    if (change.reason) e.reason = change.reason;
    if (change.active) ix.active = id;
    this.save(ix);
  }

  /**
   * The entry for the config text running now: the active entry when its hash matches, else a new
   * `local` entry (the file was edited by hand since), made active.
   */
  adopt(text: string): ConfigEntry {
    const cur = this.active();
    if (cur && cur.sha256 === configHash(text)) return cur;
    const e = this.add(text, 'local', { outcome: 'applied' });
    this.update(e.id, { active: true });
    return e;
  }

  private prune(ix: Index): void {
    const excess = ix.entries.length - this.keep;
    if (excess <= 0) return;
    const drop = ix.entries.filter((e) => e.id !== ix.active).slice(0, excess);
    ix.entries = ix.entries.filter((e) => !drop.includes(e));
    for (const e of drop) {
      try {
        unlinkSync(path.join(this.dir, e.file));
      } catch {
        /* already gone */
      }
    }
    // stray temporary files of an interrupted write
    for (const f of readdirSync(this.dir)) if (f.includes('.tmp-')) unlinkSync(path.join(this.dir, f));
  }
}
