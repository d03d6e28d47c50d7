// Rotor admin: the two live parts of the UI. Everything received is put in
// the page with textContent, never innerHTML: messages are attacker data.
'use strict';

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

// Dashboard: poll the stats endpoint every 2 seconds.
function dashboard(section) {
  const src = section.dataset.src;
  const tbody = document.getElementById('nodes');
  async function refresh() {
    try {
      const res = await fetch(src, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (!res.ok) return;
      const s = await res.json();
      for (const [k, v] of Object.entries(s.totals)) {
        const n = section.querySelector('[data-stat="' + k + '"]');
        if (n) n.textContent = k === 'publications_per_s' ? Number(v).toFixed(1) : String(v);
      }
      if (tbody) {
        tbody.replaceChildren(...s.nodes.map(n => {
          const tr = el('tr');
          for (const v of [n.id, n.version, n.uptime, n.clients, n.subscriptions, n.channels,
            Number(n.publications_per_s).toFixed(1)]) tr.append(el('td', String(v)));
          return tr;
        }));
      }
    } catch (e) {
      // The next tick retries; the numbers stay as they were.
    }
  }
  setInterval(refresh, 2000);
}

// Live watch: an EventSource on the admin-only stream, newest first,
// at most 500 rows kept.
function watch(tbody) {
  const status = document.getElementById('watch-status');
  const es = new EventSource(tbody.dataset.stream);
  es.onopen = () => { status.textContent = 'live'; };
  es.onerror = () => { status.textContent = 'reconnecting…'; };
  es.addEventListener('pub', ev => {
    let pub;
    try { pub = JSON.parse(ev.data); } catch (e) { return; }
    const tr = el('tr');
    tr.append(el('td', new Date().toLocaleTimeString()));
    tr.append(el('td', pub.channel, 'mono'));
    tr.append(el('td', String(pub.offset)));
    tr.append(el('td', JSON.stringify(pub.data, null, 1), 'mono data'));
    tbody.prepend(tr);
    while (tbody.rows.length > 500) tbody.deleteRow(-1);
  });
}

// Charts: every 5 seconds, swap in a fresh server rendering of the charts
// (inline SVG, escaped by the server's templates like every page of ours).
function charts(section) {
  const src = section.dataset.src;
  async function refresh() {
    try {
      const res = await fetch(src, { credentials: 'same-origin' });
      // A session that ended redirects to the login page: keep the charts.
      if (!res.ok || res.redirected) return;
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      section.replaceChildren(...doc.body.childNodes);
    } catch (e) {
      // The next tick retries; the charts stay as they were.
    }
  }
  setInterval(refresh, 5000);
}

document.addEventListener('DOMContentLoaded', () => {
  const c = document.getElementById('charts');
  if (c) charts(c);
  const stats = document.getElementById('stats');
  if (stats) dashboard(stats);
  const w = document.getElementById('watch');
  if (w) watch(w);
});
