// The dashboard's one page: plain HTML, CSS and a script that polls /api/state every second and
// draws with SVG (no library, no build step, nothing fetched from the network). Elements that
// show figures carry data-testid attributes (test/dashboard reads them).
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Buffy dashboard</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 16px; color: #222; background: #fafafa; }
  h1 { font-size: 20px; margin: 0 0 8px; } h2 { font-size: 15px; margin: 18px 0 6px; }
  .row { display: flex; gap: 24px; flex-wrap: wrap; }
  .card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px; }
  table { border-collapse: collapse; } td, th { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; }
  th { background: #f0f0f0; } td.l, th.l { text-align: left; }
  .up { color: #080; } .down { color: #b00; font-weight: bold; }
  #events li { margin: 2px 0; } .ev-left, .ev-down { color: #b00; } .ev-rejoined, .ev-caught_up { color: #070; } .ev-backpressure { color: #a60; }
  svg text { font: 11px system-ui, sans-serif; }
</style>
</head>
<body>
<h1>Buffy <span id="pipeline" data-testid="pipeline"></span> <small id="updated" data-testid="updated"></small></h1>
<div class="row">
  <div class="card"><h2>Workers</h2><table id="workers"></table></div>
  <div class="card"><h2>Topology (messages/s into each step, cluster)</h2><svg id="topology" width="720" height="120"></svg></div>
</div>
<div class="row">
  <div class="card"><h2>Throughput into the sinks (messages/s, per worker)</h2><svg id="throughput" width="520" height="180"></svg></div>
  <div class="card"><h2>Latency source to sink, p99 (ms, per worker)</h2><svg id="latency" width="520" height="180"></svg></div>
</div>
<div class="card"><h2>Steps per worker</h2><table id="steps"></table></div>
<div class="row">
  <div class="card"><h2>Partitions</h2><table id="partitions"></table></div>
  <div class="card"><h2>Events</h2><ul id="events" data-testid="events"></ul></div>
</div>
<script>
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const ms = (s) => (s * 1000).toFixed(s < 0.01 ? 3 : 1);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const NS = 'http://www.w3.org/2000/svg';
function el(parent, tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  parent.appendChild(e);
  return e;
}
function topology(svg, state) {
  svg.innerHTML = '';
  const depth = {};
  for (const s of state.steps) depth[s.name] ??= 0;
  for (const s of state.steps) for (const n of s.next) depth[n] = Math.max(depth[n] ?? 0, depth[s.name] + 1);
  const cols = {};
  const pos = {};
  for (const s of state.steps) {
    const d = depth[s.name];
    const row = (cols[d] = (cols[d] ?? -1) + 1);
    pos[s.name] = { x: 10 + d * 175, y: 10 + row * 55 };
  }
  const h = Math.max(...Object.values(cols).map((r) => r + 1), 1) * 55 + 10;
  svg.setAttribute('height', h);
  for (const s of state.steps) for (const n of s.next) {
    const a = pos[s.name], b = pos[n];
    el(svg, 'line', { x1: a.x + 140, y1: a.y + 20, x2: b.x, y2: b.y + 20, stroke: '#888', 'stroke-width': 2 });
    el(svg, 'polygon', { points: (b.x) + ',' + (b.y + 20) + ' ' + (b.x - 8) + ',' + (b.y + 15) + ' ' + (b.x - 8) + ',' + (b.y + 25), fill: '#888' });
  }
  for (const s of state.steps) {
    const p = pos[s.name];
    const c = state.cluster[s.name];
    el(svg, 'rect', { x: p.x, y: p.y, width: 140, height: 40, rx: 6, fill: '#eef4fb', stroke: '#1f77b4' });
    el(svg, 'text', { x: p.x + 8, y: p.y + 16 }, s.name + ' (' + s.kind + ')');
    const rate = s.kind === 'source' ? c.outRate : c.inRate;
    el(svg, 'text', { x: p.x + 8, y: p.y + 32, 'data-testid': 'topology-rate-' + s.name }, fmt(rate) + ' msg/s');
  }
}
function chart(svg, history, key, scale, unit) {
  svg.innerHTML = '';
  const W = +svg.getAttribute('width'), H = +svg.getAttribute('height'), L = 60, B = 20;
  const workers = [...new Set(history.flatMap((h) => Object.keys(h[key])))].sort();
  let max = 0;
  for (const h of history) for (const w of workers) max = Math.max(max, (h[key][w] ?? 0) * scale);
  max = max > 0 ? max * 1.1 : 1;
  el(svg, 'line', { x1: L, y1: H - B, x2: W - 5, y2: H - B, stroke: '#aaa' });
  el(svg, 'line', { x1: L, y1: 5, x2: L, y2: H - B, stroke: '#aaa' });
  el(svg, 'text', { x: 2, y: 14 }, max >= 100 ? fmt(max) : max.toFixed(2));
  el(svg, 'text', { x: 2, y: H - B }, '0 ' + unit);
  el(svg, 'text', { x: L, y: H - 4 }, history.length + ' s');
  const n = Math.max(history.length - 1, 1);
  workers.forEach((w, i) => {
    const pts = history.map((h, j) => (L + (j / n) * (W - L - 5)).toFixed(1) + ',' + (H - B - ((h[key][w] ?? 0) * scale / max) * (H - B - 5)).toFixed(1));
    el(svg, 'polyline', { points: pts.join(' '), fill: 'none', stroke: COLORS[i % COLORS.length], 'stroke-width': 2 });
    el(svg, 'text', { x: W - 60, y: 16 + i * 14, fill: COLORS[i % COLORS.length] }, w);
  });
}
function render(state) {
  document.getElementById('pipeline').textContent = state.pipeline ?? '(no worker answers)';
  document.getElementById('updated').textContent = new Date(state.timeMs).toLocaleTimeString();
  document.getElementById('workers').innerHTML = '<tr><th class="l">worker</th><th class="l">metrics</th><th class="l">state</th><th>pid</th></tr>' +
    state.targets.map((t) => '<tr><td class="l">' + esc(t.worker ?? '?') + '</td><td class="l">' + esc(t.target) + '</td><td class="l ' + (t.up ? 'up' : 'down') + '" data-testid="worker-state-' + esc(t.worker ?? t.target) + '">' + (t.up ? 'up' : 'down') + '</td><td>' + (t.pid ?? '') + '</td></tr>').join('');
  topology(document.getElementById('topology'), state);
  chart(document.getElementById('throughput'), state.history, 'sinkRate', 1, 'msg/s');
  chart(document.getElementById('latency'), state.history, 'sinkP99', 1000, 'ms');
  let rows = '<tr><th class="l">step</th><th class="l">worker</th><th>in</th><th>in/s</th><th>out</th><th>out/s</th><th>p50 ms</th><th>p95</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>to sink p99</th><th>dead letters</th></tr>';
  for (const s of state.steps) {
    for (const w of [...Object.keys(state.perWorker).sort(), 'all']) {
      const f = w === 'all' ? state.cluster[s.name] : state.perWorker[w][s.name];
      if (!f) continue;
      const id = w + '-' + s.name;
      const q = f.fromSource;
      rows += '<tr' + (w === 'all' ? ' style="font-weight:bold"' : '') + '><td class="l">' + esc(s.name) + '</td><td class="l">' + esc(w) + '</td>' +
        '<td data-testid="in-' + esc(id) + '">' + fmt(f.in) + '</td><td data-testid="inrate-' + esc(id) + '">' + fmt(f.inRate) + '</td>' +
        '<td data-testid="out-' + esc(id) + '">' + fmt(f.out) + '</td><td>' + fmt(f.outRate) + '</td>' +
        '<td data-testid="p50-' + esc(id) + '">' + ms(q['50']) + '</td><td>' + ms(q['95']) + '</td><td data-testid="p99-' + esc(id) + '">' + ms(q['99']) + '</td><td>' + ms(q['99.9']) + '</td><td>' + ms(q['99.99']) + '</td>' +
        '<td>' + ms(f.toSinkP99) + '</td><td data-testid="dl-' + esc(id) + '">' + fmt(f.deadLetters) + '</td></tr>';
    }
  }
  document.getElementById('steps').innerHTML = rows;
  const owners = state.partitions.owners;
  document.getElementById('partitions').innerHTML = owners === null ? '<tr><td class="l">not known yet</td></tr>' :
    '<tr><th class="l">worker</th><th>partitions</th><th class="l">first partitions</th></tr>' +
    Object.entries(state.partitions.counts).sort().map(([w, n]) => '<tr><td class="l">' + esc(w) + '</td><td data-testid="partitions-' + esc(w) + '">' + n + '</td><td class="l">' +
      owners.map((o, i) => o === w ? i : -1).filter((i) => i >= 0).slice(0, 12).join(', ') + (n > 12 ? ', ...' : '') + '</td></tr>').join('');
  document.getElementById('events').innerHTML = state.events.slice().reverse().map((e) =>
    '<li class="ev-' + e.kind + '">' + new Date(e.timeMs).toLocaleTimeString() + ' ' + esc(e.text) + '</li>').join('');
}
async function tick() {
  try {
    const res = await fetch('/api/state');
    render(await res.json());
  } catch (err) {
    document.getElementById('updated').textContent = 'the dashboard server does not answer: ' + err;
  }
}
tick();
setInterval(tick, 1000);
</script>
</body>
</html>
`;
