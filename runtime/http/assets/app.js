// The local page: polls the gateway's API (same origin; the token, if any, is in an HttpOnly cookie).
'use strict';
const POLL_MS = 3000;
const SLOW_MS = 60000;
const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) tr.appendChild(c instanceof Node ? c : el('td', c));
  return tr;
}
const num = (v, cls = 'num') => el('td', v, cls);
const kw = (w) => (w === null || w === undefined ? '–' : `${(w / 1000).toFixed(1)} kW`);
const kwh = (v) => (v === null || v === undefined ? '–' : `${Number(v).toFixed(1)} kWh`);
const pct = (v) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)} %`);
const age = (ms) => (ms === null || ms === undefined ? 'never' : ms < 60000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60000)} min`);

async function get(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (res.status === 401) { location.replace('/'); throw new Error('unauthorized'); }
  return { status: res.status, body: await res.json() };
}

function setFlow(id, w) {
  const t = $(id);
  t.textContent = kw(w);
  t.dataset.w = w === null || w === undefined ? '' : String(w);
}
function link(id, w, outward) {
  const p = $(id);
  const on = w !== null && w !== undefined && Math.abs(w) > 50;
  p.classList.toggle('active', on);
  p.classList.toggle('reverse', on && (outward ? w < 0 : w < 0));
}

async function refreshLive() {
  const { body } = await get('/api/live');
  showFlow(body.flow);
  showDevices(body.devices);
  showStatus(body.status, body.health);
}

function showFlow(f) {
  setFlow('flow-grid', f.gridW);
  setFlow('flow-pv', f.pvW);
  setFlow('flow-battery', f.batteryW);
  setFlow('flow-heatpump', f.heatPumpW);
  setFlow('flow-loads', f.loadsW);
  setFlow('flow-other', f.otherW);
  setFlow('flow-consumption', f.consumptionW);
  $('flow-soc').textContent = f.socPct === null ? '' : `SoC ${f.socPct.toFixed(0)} %`;
  link('link-grid', f.gridW);
  link('link-pv', f.pvW);
  link('link-battery', f.batteryW);
  link('link-heatpump', f.heatPumpW);
  link('link-loads', (f.loadsW ?? 0) + (f.otherW ?? 0));
  $('flow-note').textContent = f.missing.length ? `no good value from: ${f.missing.join(', ')}` : 'grid + PV + battery = site consumption';
  $('updated').textContent = `updated ${new Date(f.ts).toLocaleTimeString()}`;
  $('updated').dataset.ts = String(f.ts);
}

function showDevices(devices) {
  const tb = $('devices').tBodies[0];
  tb.replaceChildren(...devices.map((d) => {
    const q = el('td', d.quality, d.quality === 'good' ? 'good' : 'bad');
    const name = el('td', d.id);
    name.title = `${d.name ?? ''} (${d.role}, ${d.profile})`;
    return row([name, num(kw(d.powerW)), num(kwh(d.energyKwh)), q, num(age(d.lastGoodAgeMs)), num(d.errors), el('td', d.backoff ? `until ${new Date(d.backoff.until).toLocaleTimeString()} (${d.backoff.failures})` : '–', d.backoff ? 'warn' : '')]);
  }));
}

function showStatus(s, h) {
  const status = h.ok ? 200 : 503;
  $('site').textContent = `${s.site} / ${s.gateway}${s.dryRun ? ' (dry-run)' : ''}`;
  $('health').textContent = status === 200 ? 'healthy' : `unhealthy: ${h.reasons.join('; ')}`;
  $('health').className = `pill ${status === 200 ? 'ok' : 'fail'}`;
  const items = [];
  if (s.store) {
    items.push(['Store', `${(s.store.usedBytes / 1e6).toFixed(1)} of ${(s.store.maxBytes / 1e6).toFixed(0)} MB`]);
    items.push(['Backlog', `${s.store.backlogRecords} records, oldest unsent ${age(s.store.oldestUnsentAgeMs)}`]);
    const d = s.store.dropped;
    const dropped = d.rawByCap + d.oneMinuteByCap + d.fifteenMinuteByCap + d.energyByCap + d.readingsOnError + Object.values(d.outboxByCap).reduce((a, b) => a + b, 0);
    items.push(['Dropped', String(dropped)]);
  }
  if (s.uplink) {
    items.push(['Uplink', `${s.uplink.connected ? 'connected' : 'disconnected'} ${s.uplink.url}`]);
    items.push(['Last ack', s.uplink.lastAckAt ? new Date(s.uplink.lastAckAt).toLocaleString() : 'never']);
  } else items.push(['Uplink', 'not configured (store only)']);
  $('status').replaceChildren(...items.flatMap(([k, v]) => [el('dt', k), el('dd', v)]));
}

async function refreshRules() {
  const { body: r } = await get('/api/rules');
  $('rules').replaceChildren(r.running ? el('table') : el('p', 'rule engine not running', 'muted'));
  if (r.running) $('rules').firstChild.replaceChildren(...r.rules.map((x) => row([x.id, x.kind, x.outputs.map((o) => `${o.output} = ${o.value ?? '?'}`).join(', ')])));
  $('overrides').replaceChildren(...(r.overrides.length ? r.overrides.map((o) => {
    const b = el('button', 'clear', 'small');
    b.onclick = async () => { await fetch(`/api/overrides/${encodeURIComponent(o.output)}`, { method: 'DELETE' }); refreshRules(); };
    const p = el('p', `${o.output} = ${o.value} until ${new Date(o.expiresAt).toLocaleTimeString()} by ${o.by}: ${o.reason} `);
    p.appendChild(b);
    return p;
  }) : [el('p', 'none', 'muted')]));
  $('decisions').tBodies[0].replaceChildren(...r.decisions.slice(0, 10).map((d) => row([new Date(d.ts).toLocaleTimeString(), `${d.device}.${d.point} = ${d.value}`, d.rule, el('td', d.status, d.status === 'failed' ? 'bad' : ''), d.reason])));
}

async function refreshCarbon() {
  const { status, body: a } = await get('/api/accounting');
  if (status !== 200) { $('carbon').replaceChildren(row(['accounting not enabled'])); return; }
  const line = (label, w) => row([el('th', label), num(w ? kwh(w.energyKwh.consumption ?? 0) : '–'), num(w ? `${w.co2Kg.location.toFixed(1)} kg` : '–'), num(w ? `${w.co2Kg.market.toFixed(1)} kg` : '–'), num(w ? pct(w.green.annual_volumetric) : '–')]);
  $('carbon').replaceChildren(line('Today', a.today), line('This month', a.month), line('Rolling 24 h', a.rolling24h));
}

let plot;
const COLORS = { grid_meter: '#79c0ff', pv_inverter: '#f2cc60', battery: '#a5d6a7', heat_pump: '#ff9e64', load: '#d2a8ff' };
async function refreshChart() {
  const { status, body: s } = await get('/api/series?hours=24');
  if (status !== 200 || typeof uPlot === 'undefined') return;
  const devices = Object.keys(s.values);
  if (!s.t.length) return;
  $('chart-empty')?.remove();
  const data = [s.t.map((t) => t / 1000), ...devices.map((d) => s.values[d].map((v) => (v === null ? null : v / 1000)))];
  const width = $('chart').clientWidth || 320;
  if (plot && plot.series.length === devices.length + 1) { plot.setData(data); plot.setSize({ width, height: 240 }); return; }
  plot?.destroy();
  const hours = (Date.now() - s.from) / 3600000;
  plot = new uPlot({ width, height: 240, scales: { x: { time: true, range: () => [Date.now() / 1000 - hours * 3600, Date.now() / 1000] } }, series: [{}, ...devices.map((d) => ({ label: d, stroke: COLORS[s.roles[d]] ?? '#8b98a5', width: 1.5 }))], axes: [{ stroke: '#8b98a5' }, { stroke: '#8b98a5' }] }, data, $('chart'));
}

window.addEventListener('resize', () => plot?.setSize({ width: $('chart').clientWidth || 320, height: 240 }));

function loop(fn, ms) {
  const run = () => fn().catch((err) => console.warn(err)).finally(() => setTimeout(run, typeof ms === 'function' ? ms() : ms));
  run();
}
loop(refreshLive, POLL_MS);
loop(refreshRules, POLL_MS * 2);
loop(refreshCarbon, SLOW_MS / 2);
// Until the store has a first 1-minute average, look again soon.
loop(refreshChart, () => (plot ? SLOW_MS : POLL_MS * 3));
