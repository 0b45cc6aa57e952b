/**
 * The JSON text of `readings-1m` / `readings-15m` records, built as text (one summary per point
 * and bucket: the hot path of every flush). Fields in the order of readings-1m.v1: device, point,
 * canonical?, unit?, min, max, mean, last, count, samples, quality, delta?, deltaFlag?, text?; quality and
 * flags are fixed tokens, numbers as JSON.stringify prints them.
 */
import type { BucketSummary } from './aggregator.js';

/** A finite number as JSON (same text as JSON.stringify), else null. */
export const jnum = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? 'null' : String(x));

/** `,"device":...,"point":...[,"canonical":...][,"unit":...]`: the fixed part of a point's records. */
export function pointJson(p: { device: string; point: string; canonical?: string; unit?: string }): string {
  return (
    `,"device":${JSON.stringify(p.device)},"point":${JSON.stringify(p.point)}` +
    (p.canonical ? `,"canonical":${JSON.stringify(p.canonical)}` : '') +
    (p.unit ? `,"unit":${JSON.stringify(p.unit)}` : '')
  );
}

/** The record body after id/seq/ts: `pointJson` + the summary's fields. */
export function summaryBody(pointJsonText: string, s: BucketSummary): string {
  let body =
    pointJsonText +
    `,"min":${jnum(s.min)},"max":${jnum(s.max)},"mean":${jnum(s.mean)},"last":${jnum(s.last)},"count":${s.count},"samples":${s.samples},"quality":"${s.quality}"`;
  if (s.delta !== undefined) body += `,"delta":${jnum(s.delta)}${s.deltaFlag ? `,"deltaFlag":"${s.deltaFlag}"` : ''}`;
  if (s.text !== undefined) body += `,"text":${JSON.stringify(s.text)}`;
  return body;
}
