/**
 * `carbonedge profiles list|show ID|validate FILE`: the device library as an installer sees it:
 * what ships (filtered by kind and manufacturer), what one profile reads and with which requests
 * (the poller's own planner), and whether a profile of one's own is valid (every issue with
 * file:line, path and what was expected; exit 1).
 */
import path from 'node:path';
import { hex } from '../../../drivers/dlt645/frame.js';
import { variantOf } from '../../../drivers/dlt645/variant.js';
import { planReads } from '../../../drivers/modbus/planner.js';
import { builtinProfileDir, loadProfileFile, loadProfiles } from '../../../drivers/profiles/load.js';
import { isDlt645Profile, type AnyProfile } from '../../../drivers/profiles/types.js';
import { ConfigError } from '../../../runtime/config/errors.js';
import type { Command } from '../command.js';
import { formatTable, parseCommandArgs, runCommand, UsageError } from '../command.js';

const usage =
  'carbonedge profiles list [--kind KIND] [--manufacturer NAME] [--json] [--profile-dir DIR]\n' +
  '       carbonedge profiles show ID [--json] [--profile-dir DIR]\n' +
  '       carbonedge profiles validate FILE [--json]';

/** Modbus read function codes by register type. */
const FUNCTION: Record<string, string> = { coil: 'FC01', discrete: 'FC02', holding: 'FC03', input: 'FC04' };

const protocolOf = (p: AnyProfile) => (isDlt645Profile(p) ? p.protocol : p.discover === 'sunspec' ? 'modbus (sunspec)' : 'modbus');

function library(dirs: string[] | undefined): Map<string, AnyProfile> {
  const { profiles, issues } = loadProfiles([builtinProfileDir(), ...(dirs ?? []).map((d) => path.resolve(d))]);
  // A broken file does not hide the rest of the library: its issues go to stderr.
  if (issues.length) process.stderr.write(`${new ConfigError(issues, 'some profiles were left out: they have errors').message}\n`);
  return profiles;
}

function list(argv: string[]): number {
  const { values } = parseCommandArgs(argv, { kind: { type: 'string' }, manufacturer: { type: 'string' }, json: { type: 'boolean' }, 'profile-dir': { type: 'string', multiple: true } });
  const has = (field: string, wanted: string | undefined) => wanted === undefined || field.toLowerCase().includes(wanted.toLowerCase());
  const rows = [...library(values['profile-dir']).values()]
    .filter((p) => (values.kind === undefined || p.kind === values.kind) && has(p.manufacturer, values.manufacturer))
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((p) => ({ id: p.id, kind: p.kind, manufacturer: p.manufacturer, model: p.model, protocol: protocolOf(p), version: p.version }));
  if (values.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else {
    const head = ['id', 'kind', 'manufacturer', 'model', 'protocol', 'version'];
    process.stdout.write(`${formatTable(head, rows.map((r) => [r.id, r.kind, r.manufacturer, r.model, r.protocol, String(r.version)]), new Set([5]))}\n`);
  }
  return 0;
}

interface PointRow {
  id: string;
  /** Modbus: `holding 40083` (+ words); DL/T 645: `DI 00010000`. */
  at: string;
  type: string;
  unit: string;
  canonical: string;
  access: string;
}

/** The points and the requests one poll cycle makes, in the order the poller makes them. */
function describe(p: AnyProfile): { points: PointRow[]; requests: { request: string; points: string[] }[] } {
  if (isDlt645Profile(p)) {
    const read = p.points.filter((q) => q.poll !== false);
    const code = hex(variantOf(p.protocol).control.read);
    return {
      points: p.points.map((q) => ({ id: q.id, at: `DI ${q.di}`, type: `${q.format}${q.signed ? ' signed' : ''}`, unit: q.unit ?? '', canonical: q.canonical ?? '', access: q.access ?? 'read' })),
      requests: read.map((q) => ({ request: `${code} read DI ${q.di}`, points: [q.id] })),
    };
  }
  return {
    points: p.points.map((q) => ({
      id: q.id,
      at: `${q.register} ${q.address}${q.bit !== undefined ? `.${q.bit}` : ''}`,
      type: q.type === 'string' ? `string[${q.length}]` : q.type,
      unit: q.unit ?? '',
      canonical: q.canonical ?? '',
      access: q.access ?? 'read',
    })),
    requests: planReads(p).map((b) => ({ request: `${FUNCTION[b.register]} ${b.register} ${b.start}..${b.start + b.count - 1} (${b.count})`, points: b.points.map((q) => q.id) })),
  };
}

function show(argv: string[]): number {
  const [id, ...rest] = argv;
  if (id === undefined || id.startsWith('-')) throw new UsageError('profiles show needs a profile ID');
  const { values } = parseCommandArgs(rest, { json: { type: 'boolean' }, 'profile-dir': { type: 'string', multiple: true } });
  const profiles = library(values['profile-dir']);
  const p = profiles.get(id);
  if (!p) throw new UsageError(`unknown profile '${id}' (available: ${[...profiles.keys()].sort().join(', ')})`);
  const { points, requests } = describe(p);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ id: p.id, version: p.version, manufacturer: p.manufacturer, model: p.model, kind: p.kind, protocol: protocolOf(p), source: p.source, file: p.file, points, requests }, null, 2)}\n`);
    return 0;
  }
  const out = [
    `${p.manufacturer} ${p.model} (${p.id} v${p.version}, ${p.kind}, ${protocolOf(p)})`,
    `source: ${p.source.document}${p.source.revision ? `, ${p.source.revision}` : ''}${p.source.url ? ` <${p.source.url}>` : ''}`,
    ...(!isDlt645Profile(p) && p.discover === 'sunspec' ? ['points: discovered from the device\'s SunSpec model chain at start; below, those of a device with only model 1'] : []),
    '',
    formatTable(['point', isDlt645Profile(p) ? 'DI' : 'register', 'type', 'unit', 'canonical', 'access'], points.map((r) => [r.id, r.at, r.type, r.unit, r.canonical, r.access])),
    '',
    `planned requests per poll cycle: ${requests.length}`,
    formatTable(['#', 'request', 'points'], requests.map((r, i) => [String(i + 1), r.request, r.points.join(', ')]), new Set([0])),
    '',
  ];
  process.stdout.write(out.join('\n'));
  return 0;
}

function validate(argv: string[]): number {
  const [file, ...rest] = argv;
  if (file === undefined || file.startsWith('-')) throw new UsageError('profiles validate needs a FILE');
  const { values } = parseCommandArgs(rest, { json: { type: 'boolean' } });
  const { profile, issues } = loadProfileFile(file);
  if (values.json) process.stdout.write(`${JSON.stringify({ ok: !!profile, file, ...(profile ? { id: profile.id, points: profile.points.length } : {}), issues: new ConfigError(issues).issues }, null, 2)}\n`);
  // Only the file's own issues: no "unknown profile" beside them.
  if (!profile) throw new ConfigError(issues, `${file}: the profile has errors`);
  if (!values.json) process.stdout.write(`${file}: OK (${profile.id} v${profile.version}, ${profile.manufacturer} ${profile.model}, ${profile.points.length} points, ${protocolOf(profile)})\n`);
  return 0;
}

export const command: Command = {
  summary: 'The device profile library: list it (filter by kind, manufacturer), show a profile\'s points and planned requests, validate a profile file.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const [sub, ...rest] = argv;
      if (sub === 'list') return list(rest);
      if (sub === 'show') return show(rest);
      if (sub === 'validate') return validate(rest);
      throw new UsageError(sub === undefined ? 'give a subcommand: list, show ID or validate FILE' : `unknown subcommand '${sub}' (expected list, show or validate)`);
    }),
};
