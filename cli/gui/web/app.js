// cloonix gui: the page of one net (served by `cloonix gui`, cli/gui/gui_server.h).
// The graph is cytoscape.js, the terminals xterm.js; the state comes from
// the net's WatchEvents over /ws/events, the actions go to /api/rpc/<Method>.
'use strict';

const S = {
  cy: null,
  items: new Map(),  // name -> Item (proto3 JSON, proto field names)
  seen: new Set(),   // names replayed since the events socket (re)opened
  synced: false,
  terms: [],
};

const $ = (id) => document.getElementById(id);
const kindOf = (it) => (it.kind || '').replace('ITEM_KIND_', '').toLowerCase();
const stateOf = (it) => (it.state || 'ITEM_STATE_UNSPECIFIED').replace('ITEM_STATE_', '').toLowerCase();
const agentUp = (it) => !!(it.kvm && it.kvm.agent_up);
const GUESTS = new Set(['kvm', 'cnt']);

function stateText(it) {
  let s = stateOf(it);
  if (kindOf(it) === 'kvm' && s === 'running') s += agentUp(it) ? ', agent up' : ', agent down';
  if (it.state_message) s += ': ' + it.state_message;
  return s;
}

function showError(msg) {
  $('error').textContent = msg;
  if (msg) setTimeout(() => { if ($('error').textContent === msg) $('error').textContent = ''; }, 15000);
}

async function rpc(method, body) {
  const r = await fetch('/api/rpc/' + method, {
    method: 'POST',
    headers: {'Content-Type': 'application/json', 'X-Cloonix-Gui': '1'},
    body: JSON.stringify(body || {}),
  });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${j.code || r.status}: ${j.message || r.statusText}`);
  return j;
}

async function act(what, fn) {
  try {
    showError('');
    return await fn();
  } catch (e) {
    showError(`${what}: ${e.message}`);
    return null;
  }
}

// ---- the graph ----------------------------------------------------------

function classesOf(it) {
  const k = kindOf(it);
  const c = [k, stateOf(it)];
  if (k === 'kvm') c.push(agentUp(it) && stateOf(it) === 'running' ? 'up' : 'down');
  return c.join(' ');
}

function makeGraph() {
  S.cy = cytoscape({
    container: $('graph'),
    wheelSensitivity: 0.3,
    style: [
      {selector: 'node', style: {
        'label': 'data(id)', 'font-size': 11, 'text-valign': 'bottom', 'text-margin-y': 4,
        'background-color': '#8c959f', 'width': 36, 'height': 36,
        'border-width': 2, 'border-color': '#57606a'}},
      {selector: 'node.lan', style: {'shape': 'ellipse', 'width': 18, 'height': 18,
        'background-color': '#d0d7de', 'border-width': 1}},
      {selector: 'node.kvm', style: {'shape': 'round-rectangle', 'width': 46, 'height': 32}},
      {selector: 'node.kvm.down', style: {'background-color': '#cf222e'}},
      {selector: 'node.kvm.up', style: {'background-color': '#0969da'}},
      {selector: 'node.cnt', style: {'shape': 'round-hexagon', 'background-color': '#1a7f37'}},
      {selector: 'node.nat', style: {'shape': 'diamond', 'background-color': '#bf8700'}},
      {selector: 'node.a2b', style: {'shape': 'barrel', 'background-color': '#8250df'}},
      {selector: 'node.tap', style: {'shape': 'triangle', 'background-color': '#57606a'}},
      {selector: 'node.phy', style: {'shape': 'octagon', 'background-color': '#57606a'}},
      {selector: 'node.c2c', style: {'shape': 'star', 'background-color': '#bc4c00'}},
      {selector: 'node.creating', style: {'border-style': 'dashed', 'opacity': 0.6}},
      {selector: 'node.stopped', style: {'background-color': '#afb8c1'}},
      {selector: 'node.failed', style: {'background-color': '#6e7781', 'border-color': '#cf222e', 'border-width': 4}},
      {selector: 'node.deleting', style: {'opacity': 0.35}},
      {selector: 'edge', style: {'width': 2, 'line-color': '#8c959f', 'label': 'data(label)',
        'font-size': 9, 'color': '#57606a', 'text-rotation': 'autorotate', 'text-margin-y': -6}},
      {selector: ':selected', style: {'border-color': '#fb8500', 'border-width': 3}},
    ],
  });
  const cy = S.cy;
  cy.on('dragfree', 'node', (e) => {
    const n = e.target;
    n.scratch('unplaced', false);
    const p = n.position();
    act(`place ${n.id()}`, () => rpc('SetLayout', {positions: {[n.id()]: {x: round(p.x), y: round(p.y)}}}));
  });
  cy.on('dbltap', 'node', (e) => {
    const it = S.items.get(e.target.id());
    if (it && GUESTS.has(kindOf(it))) openTerm(it.name, 'term');
  });
  cy.on('cxttap', (e) => {
    const pos = e.position;
    const at = e.renderedPosition;
    const box = $('graph').getBoundingClientRect();
    const x = box.left + at.x, y = box.top + at.y;
    if (e.target === cy) showMenu(x, y, backgroundMenu(pos));
    else if (e.target.isNode()) showMenu(x, y, nodeMenu(e.target.id()));
  });
  cy.on('mouseover', 'node', (e) => {
    const it = S.items.get(e.target.id());
    if (!it) return;
    const box = $('graph').getBoundingClientRect();
    const tip = $('tip');
    tip.textContent = `${it.name} (${kindOf(it)}): ${stateText(it)}`;
    tip.style.left = `${box.left + e.renderedPosition.x + 14}px`;
    tip.style.top = `${box.top + e.renderedPosition.y + 14}px`;
    tip.hidden = false;
  });
  cy.on('mouseout', 'node', () => { $('tip').hidden = true; });
  cy.on('tap', () => hideMenu());
  $('graph').addEventListener('contextmenu', (e) => e.preventDefault());
}

const round = (v) => Math.round(v * 10) / 10;

function lanNode(name) {
  let n = S.cy.getElementById(name);
  if (n.empty()) {
    n = S.cy.add({group: 'nodes', data: {id: name}, classes: 'lan', position: {x: 0, y: 0}});
    n.scratch('unplaced', true);
  }
  return n;
}

function upsert(it) {
  const cy = S.cy;
  S.items.set(it.name, it);
  let n = cy.getElementById(it.name);
  const p = it.position ? {x: it.position.x || 0, y: it.position.y || 0} : null;
  if (n.empty()) {
    n = cy.add({group: 'nodes', data: {id: it.name}, position: p || {x: 0, y: 0}});
    n.scratch('unplaced', !p);
  } else if (p) {
    n.scratch('unplaced', false);
    if (!n.grabbed()) n.position(p);
  }
  n.classes(classesOf(it));
  const want = new Set();
  for (const e of it.eths || []) {
    if (!e.lan) continue;
    const idx = e.index || 0;
    const id = `${it.name}:eth${idx}`;
    want.add(id);
    const old = cy.getElementById(id);
    if (!old.empty() && old.target().id() !== e.lan) cy.remove(old);
    if (cy.getElementById(id).empty()) {
      lanNode(e.lan);
      cy.add({group: 'edges', data: {id, source: it.name, target: e.lan, label: `eth${idx}`}});
    }
  }
  n.connectedEdges().forEach((ed) => {
    if (ed.source().id() === it.name && !want.has(ed.id())) cy.remove(ed);
  });
  if (S.synced && n.scratch('unplaced')) schedulePlace();
  renderList();
}

function remove(name) {
  S.items.delete(name);
  S.cy.getElementById(name).remove();
  renderList();
}

// Nodes without a position: placed a moment after they appear (their cables
// come with the next events), near their placed neighbours, then settled by
// cytoscape's cose layout with every placed node locked (an empty page gets
// a cose layout of everything). Their places are then stored in the net, so
// every page and reload draws the same.
let placeTimer = null;
function schedulePlace() {
  clearTimeout(placeTimer);
  placeTimer = setTimeout(placeUnplaced, 700);
}

function placeUnplaced() {
  const cy = S.cy;
  const un = cy.nodes().filter((n) => n.scratch('unplaced'));
  if (un.empty()) return;
  const placed = cy.nodes().not(un);
  const bb = placed.nonempty() ? placed.boundingBox() : {x1: 0, x2: 0, y1: 0, y2: 0};
  let k = 0;
  un.forEach((n) => {
    const nb = n.neighborhood('node').filter((m) => !m.scratch('unplaced'));
    const jitter = () => (Math.random() - 0.5) * 80;
    if (nb.nonempty()) {
      const c = nb.reduce((a, m) => ({x: a.x + m.position('x') / nb.length, y: a.y + m.position('y') / nb.length}), {x: 0, y: 0});
      n.position({x: c.x + jitter(), y: c.y + 60 + jitter()});
    } else {
      n.position({x: bb.x2 + 100 + (k % 3) * 90, y: bb.y1 + Math.floor(k / 3) * 80});
      k++;
    }
  });
  placed.lock();
  cy.layout({name: 'cose', animate: false, randomize: placed.empty(), fit: false, padding: 40,
    idealEdgeLength: () => 90, nodeRepulsion: () => 60000, numIter: 600}).run();
  placed.unlock();
  if (placed.empty()) cy.fit(undefined, 40);
  const positions = {};
  un.forEach((n) => {
    n.scratch('unplaced', false);
    positions[n.id()] = {x: round(n.position('x')), y: round(n.position('y'))};
  });
  act('store the layout', () => rpc('SetLayout', {positions}));
}

// ---- the list (what the canvas shows, as accessible HTML) -----------------

function renderList() {
  const body = $('items').tBodies[0];
  const rows = [...S.items.values()].sort((a, b) => a.name.localeCompare(b.name));
  body.replaceChildren(...rows.map((it) => {
    const tr = document.createElement('tr');
    tr.dataset.name = it.name;
    tr.dataset.kind = kindOf(it);
    tr.dataset.state = stateOf(it);
    if (kindOf(it) === 'kvm') tr.dataset.agent = agentUp(it) ? 'up' : 'down';
    for (const t of [it.name, kindOf(it), stateText(it)]) {
      const td = document.createElement('td');
      td.textContent = t;
      tr.append(td);
    }
    if (it.state_message) tr.title = it.state_message;
    tr.addEventListener('dblclick', () => { if (GUESTS.has(kindOf(it))) openTerm(it.name, 'term'); });
    return tr;
  }));
}

// ---- events -------------------------------------------------------------

function connectEvents() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/events`);
  ws.onopen = () => { S.seen = new Set(); $('status').textContent = 'connected'; };
  ws.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    if (ev.gone) { $('status').textContent = `disconnected: ${ev.gone}`; return; }
    switch (ev.type) {
      case 'EVENT_TYPE_EXISTING':
        S.seen.add(ev.item.name);
        upsert(ev.item);
        break;
      case 'EVENT_TYPE_SYNCED': {
        for (const name of [...S.items.keys()]) if (!S.seen.has(name)) remove(name);
        const first = !S.synced;
        S.synced = true;
        placeUnplaced();
        if (first) S.cy.fit(undefined, 40);
        $('status').textContent = `live: ${S.items.size} items`;
        document.body.dataset.synced = 'true';
        break;
      }
      case 'EVENT_TYPE_CREATED':
      case 'EVENT_TYPE_UPDATED':
        upsert(ev.item);
        break;
      case 'EVENT_TYPE_DELETED':
        remove(ev.item.name);
        break;
    }
    if (S.synced) $('status').textContent = `live: ${S.items.size} items`;
  };
  ws.onclose = () => {
    $('status').textContent = 'disconnected: retrying…';
    setTimeout(connectEvents, 1500);
  };
}

// ---- terminals ----------------------------------------------------------

function openTerm(item, mode) {
  const TerminalCls = window.Terminal.Terminal || window.Terminal;
  const FitCls = window.FitAddon.FitAddon || window.FitAddon;
  const box = document.createElement('section');
  box.className = 'term';
  const title = `${mode === 'console' ? 'console' : 'shell'}: ${item}`;
  box.setAttribute('aria-label', title);
  box.dataset.item = item;
  box.dataset.mode = mode;
  const head = document.createElement('header');
  const label = document.createElement('span');
  label.textContent = title;
  const close = document.createElement('button');
  close.textContent = '×';
  close.setAttribute('aria-label', `Close ${title}`);
  head.append(label, close);
  const screen = document.createElement('div');
  screen.className = 'screen';
  box.append(head, screen);
  $('terms').append(box);
  const term = new TerminalCls({fontSize: 13, cursorBlink: true, scrollback: 5000});
  const fit = new FitCls();
  term.loadAddon(fit);
  term.open(screen);
  fit.fit();
  const q = `item=${encodeURIComponent(item)}&cols=${term.cols}&rows=${term.rows}`;
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/${mode}?${q}`);
  ws.binaryType = 'arraybuffer';
  const enc = new TextEncoder();
  ws.onmessage = (m) => {
    if (typeof m.data === 'string') {
      const j = JSON.parse(m.data);
      if ('exit' in j) term.write(`\r\n[${j.error ? j.error : 'exit ' + j.exit}]\r\n`);
      return;
    }
    term.write(new Uint8Array(m.data));
  };
  ws.onclose = () => { label.textContent = `${title} (closed)`; };
  term.onData((d) => { if (ws.readyState === 1) ws.send(enc.encode(d)); });
  term.onResize(({cols, rows}) => { if (ws.readyState === 1) ws.send(JSON.stringify({resize: {cols, rows}})); });
  new ResizeObserver(() => { try { fit.fit(); } catch (e) { /* closed */ } }).observe(box);
  const entry = {item, mode, term, ws, box};
  S.terms.push(entry);
  close.addEventListener('click', () => {
    ws.close();
    term.dispose();
    box.remove();
    S.terms = S.terms.filter((t) => t !== entry);
  });
  term.focus();
  return entry;
}

// ---- menus and forms ----------------------------------------------------

function showMenu(x, y, entries) {
  const menu = $('menu');
  menu.replaceChildren(...entries.map(([label, fn]) => {
    const b = document.createElement('button');
    b.setAttribute('role', 'menuitem');
    b.textContent = label;
    b.addEventListener('click', () => { hideMenu(); fn(); });
    return b;
  }));
  menu.style.left = `${x}px`;
  menu.style.top = `${y}px`;
  menu.hidden = false;
  const first = menu.querySelector('button');
  if (first) first.focus();
}

function hideMenu() { $('menu').hidden = true; }

document.addEventListener('keydown', (e) => { if (e.key === 'Escape') hideMenu(); });
document.addEventListener('click', (e) => { if (!$('menu').contains(e.target)) hideMenu(); });

// A modal form; resolves to {name: value} or null (cancelled).
function ask(title, fields) {
  const dlg = $('form');
  $('form-title').textContent = title;
  $('form-fields').replaceChildren(...fields.map((f) => {
    const l = document.createElement('label');
    l.textContent = f.label + ' ';
    const i = document.createElement('input');
    i.name = f.name;
    i.type = f.type || 'text';
    if (f.type === 'number') i.step = 'any';
    i.value = f.value === undefined ? '' : String(f.value);
    if (f.required) i.required = true;
    if (f.pattern) i.pattern = f.pattern;
    l.append(i);
    return l;
  }));
  return new Promise((resolve) => {
    dlg.returnValue = '';
    dlg.addEventListener('close', () => {
      if (dlg.returnValue !== 'ok') return resolve(null);
      const out = {};
      for (const i of dlg.querySelectorAll('input')) out[i.name] = i.value;
      resolve(out);
    }, {once: true});
    dlg.showModal();
  });
}

const NAME = {name: 'name', label: 'Name', required: true, pattern: '[A-Za-z][A-Za-z0-9_.\\-]{0,30}'};

function freeName(prefix) {
  for (let i = 1; ; i++) if (!S.items.has(prefix + i)) return prefix + i;
}

function backgroundMenu(pos) {
  const at = {x: round(pos.x), y: round(pos.y)};
  const add = (kind, fields, spec) => async () => {
    const v = await ask(`Add ${kind}`, [{...NAME, value: freeName(kind)}, ...fields]);
    if (!v) return;
    await act(`add ${kind} ${v.name}`, () => rpc('CreateItem', {item: {name: v.name, position: at, [kind]: spec(v)}}));
  };
  return [
    ['Add lan…', add('lan', [], () => ({}))],
    ['Add cnt…', add('cnt', [{name: 'image', label: 'Image', value: 'busybox', required: true},
      {name: 'eths', label: 'Eths', type: 'number', value: 1}],
    (v) => ({image: v.image, eth_count: Number(v.eths) || 1}))],
    ['Add kvm…', add('kvm', [{name: 'image', label: 'Image', value: 'tiny', required: true},
      {name: 'ram', label: 'RAM (MiB)', type: 'number', value: 256},
      {name: 'cpu', label: 'vCPUs', type: 'number', value: 1},
      {name: 'eths', label: 'Eths', type: 'number', value: 1}],
    (v) => ({image: v.image, ram_mb: Number(v.ram) || 256, cpu: Number(v.cpu) || 1, eth_count: Number(v.eths) || 1}))],
    ['Add nat…', add('nat', [], () => ({}))],
    ['Add a2b…', add('a2b', [], () => ({}))],
    ['Add tap…', add('tap', [], () => ({}))],
  ];
}

function download(url) {
  const a = document.createElement('a');
  a.href = url;
  a.download = '';
  document.body.append(a);
  a.click();
  a.remove();
}

function nodeMenu(name) {
  const it = S.items.get(name);
  if (!it) return [];
  const k = kindOf(it);
  const m = [];
  if (k === 'lan') {
    m.push(['Capture the lan (10 s, pcap)', () => download(`/api/capture?lan=${encodeURIComponent(name)}&seconds=10`)]);
  }
  if (GUESTS.has(k)) m.push(['Shell', () => openTerm(name, 'term')]);
  if (k === 'kvm') m.push(['Serial console', () => openTerm(name, 'console')]);
  const eths = it.eths || [];
  if (eths.length) {
    m.push(['Cable an eth…', async () => {
      const free = eths.find((e) => !e.lan);
      const v = await ask(`Cable an eth of ${name}`, [
        {name: 'eth', label: 'Eth', type: 'number', value: free ? (free.index || 0) : 0},
        {name: 'lan', label: 'Lan (made if missing)', value: freeName('lan'), required: true}]);
      if (!v) return;
      await act(`cable ${name}`, () => rpc('ConnectEth', {item: name, eth: Number(v.eth), lan: v.lan, create_lan: true}));
    }]);
  }
  for (const e of eths) {
    const idx = e.index || 0;
    if (e.lan) {
      m.push([`Uncable eth${idx} (${e.lan})`, () => act(`uncable ${name} eth${idx}`,
        () => rpc('DisconnectEth', {item: name, eth: idx}))]);
    }
    m.push([`Capture eth${idx} (10 s, pcap)`, () => download(
      `/api/capture?item=${encodeURIComponent(name)}&eth=${idx}&seconds=10`)]);
  }
  if (k === 'kvm') {
    for (const [label, action] of [['Reboot', 'KVM_ACTION_REBOOT'], ['Stop', 'KVM_ACTION_STOP'], ['Start', 'KVM_ACTION_START']]) {
      m.push([label, () => act(`${label.toLowerCase()} ${name}`, () => rpc('ControlKvm', {name, action}))]);
    }
  }
  if (k === 'a2b') {
    for (const dir of [0, 1]) {
      m.push([`Impairment dir${dir}…`, async () => {
        const cur = (it.a2b && it.a2b[`dir${dir}`]) || {};
        const v = await ask(`${name} dir${dir} (end ${dir} -> end ${1 - dir})`, [
          {name: 'delay_ms', label: 'Delay (ms)', type: 'number', value: cur.delay_ms || 0},
          {name: 'jitter_ms', label: 'Jitter (ms)', type: 'number', value: cur.jitter_ms || 0},
          {name: 'loss_percent', label: 'Loss (%)', type: 'number', value: cur.loss_percent || 0},
          {name: 'rate_kbps', label: 'Rate (kbit/s, 0: none)', type: 'number', value: cur.rate_kbps || 0}]);
        if (!v) return;
        const patch = {};
        for (const f of ['delay_ms', 'jitter_ms', 'loss_percent']) patch[f] = Number(v[f]) || 0;
        patch.rate_kbps = String(Math.max(0, Math.round(Number(v.rate_kbps) || 0)));
        await act(`configure ${name}`, () => rpc('ConfigureA2b', {name, dir, patch}));
      }]);
    }
  }
  m.push(['Delete', async () => {
    const v = await ask(`Delete ${k} ${name}?`, []);
    if (!v) return;
    await act(`delete ${name}`, () => rpc('DeleteItem', {name}));
  }]);
  return m;
}

// ---- for tests and scripts (puppeteer reads these) -------------------------

window.cloonixGui = {
  items: () => [...S.items.values()],
  nodePosition: (name) => S.cy.getElementById(name).position(),
  renderedPosition: (name) => {
    const n = S.cy.getElementById(name);
    const box = $('graph').getBoundingClientRect();
    const p = n.renderedPosition();
    return {x: box.left + p.x, y: box.top + p.y};
  },
  nodeColor: (name) => S.cy.getElementById(name).style('background-color'),
  termText: (i) => {
    const t = S.terms[i === undefined ? S.terms.length - 1 : i];
    if (!t) return '';
    const b = t.term.buffer.active;
    const lines = [];
    for (let y = 0; y < b.length; y++) lines.push(b.getLine(y).translateToString(true));
    return lines.join('\n');
  },
};

async function main() {
  makeGraph();
  const net = await act('the net', () => rpc('GetNet', {}));
  if (net) {
    $('net').textContent = net.name;
    document.title = `cloonix ${net.name}`;
  }
  connectEvents();
}

main();
