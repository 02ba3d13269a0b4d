// The browser half of e2e/gui_test.sh: Debian's chromium, headless, driven
// by puppeteer-core (cli/gui/web/node_modules, NODE_PATH). Runs the page of
// a net that is empty when it loads and prints one "PASS: x" or "FAIL: x: why"
// line per check (gui_test.sh counts them).
//   node gui_test.js URL LAB_FILE OUT_DIR
'use strict';
const {execFileSync} = require('child_process');
const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

const [url, labFile, outDir] = process.argv.slice(2);
let failed = 0;
const pass = (n) => console.log(`PASS: ${n}`);
const fail = (n, why) => { failed++; console.log(`FAIL: ${n}: ${String(why).split('\n')[0]}`); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cloonix = (...args) => execFileSync('cloonix', args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
const items = () => JSON.parse(cloonix('ls', '-f', 'json')).items || [];

async function until(what, fn, ms, step = 200) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(step);
  }
  throw new Error(`${what}: not within ${ms / 1000} s (last: ${last})`);
}

// A point of the graph with no node within 50 px (page coordinates).
async function emptySpot(page) {
  return page.evaluate(() => {
    const r = document.getElementById('graph').getBoundingClientRect();
    const nodes = window.cloonixGui.items().map((it) => window.cloonixGui.renderedPosition(it.name));
    for (let y = r.bottom - 20; y > r.top + 20; y -= 30) {
      for (let x = r.left + 20; x < r.right - 20; x += 30) {
        if (nodes.every((p) => Math.hypot(p.x - x, p.y - y) > 50)) return {x, y};
      }
    }
    return {x: r.left + 10, y: r.bottom - 10};
  });
}

async function check(name, fn) {
  try {
    await fn();
    pass(name);
    return true;
  } catch (e) {
    fail(name, e.message || e);
    return false;
  }
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1400,900'],
    defaultViewport: {width: 1400, height: 900},
  });
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const rows = () => page.$$eval('#items tbody tr', (trs) => trs.map((tr) => ({
    name: tr.dataset.name, kind: tr.dataset.kind, state: tr.dataset.state, agent: tr.dataset.agent || '',
  })));
  const synced = () => page.waitForSelector('body[data-synced="true"]', {timeout: 30000});
  // A node's menu: pick an entry by its label.
  const nodeMenu = async (name, label) => {
    const at = await page.evaluate((n) => window.cloonixGui.renderedPosition(n), name);
    await page.mouse.click(at.x, at.y, {button: 'right'});
    await page.waitForSelector('#menu:not([hidden]) button', {timeout: 5000});
    const ok = await page.$$eval('#menu button', (bs, l) => {
      const b = bs.find((x) => x.textContent.startsWith(l));
      if (b) b.click();
      return !!b;
    }, label);
    if (!ok) throw new Error(`no "${label}" in the menu of ${name}`);
  };
  try {
    await check('the token opens the page (cookie session, synced)', async () => {
      const r = await page.goto(url, {waitUntil: 'load'});
      if (r.status() !== 200) throw new Error(`HTTP ${r.status()}`);
      if (page.url().includes('token=')) throw new Error(`still on the token URL ${page.url()}`);
      await synced();
    });
    await page.evaluate(() => { window.__noReload = 1; });

    // The lab comes while the page is open: every item appears, the VMs red
    // then blue.
    cloonix('apply', '-f', labFile);
    const seen = {vm1: new Set(), vm2: new Set()};
    await check('the page lists the lab: 2 kvm, 1 cnt, 1 a2b (and its lans)', () => until('the lab in the list', async () => {
      const r = await rows();
      for (const x of r) if (seen[x.name]) seen[x.name].add(x.agent);
      const by = Object.fromEntries(r.map((x) => [x.name, x.kind]));
      return by.vm1 === 'kvm' && by.vm2 === 'kvm' && by.c1 === 'cnt' && by.ab1 === 'a2b' &&
          by.lan1 === 'lan' && by.lan2 === 'lan';
    }, 120000));
    await page.screenshot({path: path.join(outDir, 'gui-lab-red.png')});
    await check('a kvm turns blue in the page when its agent comes up (red before)', () => until('vm1 and vm2 blue', async () => {
      const r = await rows();
      for (const x of r) if (seen[x.name]) seen[x.name].add(x.agent);
      const up = r.filter((x) => x.kind === 'kvm' && x.agent === 'up').length === 2;
      if (!up) return false;
      if (!seen.vm1.has('down') && !seen.vm2.has('down')) throw new Error('never saw a kvm red');
      const c = await page.evaluate(() => window.cloonixGui.nodeColor('vm1'));
      if (c !== 'rgb(9,105,218)') throw new Error(`vm1 is drawn ${c}, not blue`);
      return true;
    }, 240000, 100));
    await page.screenshot({path: path.join(outDir, 'gui.png')});

    await check('an item added with the CLI appears without reload', async () => {
      cloonix('add', 'lan', 'lancli');
      await until('lancli in the list', async () => (await rows()).some((x) => x.name === 'lancli'), 15000);
      if (!(await page.evaluate(() => window.__noReload === 1))) throw new Error('the page reloaded');
    });

    // Drag c1: its place is stored in the net and survives a reload.
    let stored = null;
    await check('a dragged node is stored in the net (SetLayout)', async () => {
      const from = await page.evaluate(() => window.cloonixGui.renderedPosition('c1'));
      await page.mouse.move(from.x, from.y);
      await page.mouse.down();
      for (let i = 1; i <= 10; i++) await page.mouse.move(from.x + 13 * i, from.y + 9 * i);
      await page.mouse.up();
      const moved = await page.evaluate(() => window.cloonixGui.nodePosition('c1'));
      stored = await until('c1 position in cloonix ls', () => {
        const c1 = items().find((x) => x.name === 'c1');
        const p = c1 && c1.position;
        return p && Math.abs((p.x || 0) - moved.x) < 0.6 && Math.abs((p.y || 0) - moved.y) < 0.6 ? {x: p.x || 0, y: p.y || 0} : null;
      }, 10000);
    });
    await check('the dragged node keeps its place after a reload', async () => {
      await page.reload({waitUntil: 'load'});
      await synced();
      const p = await page.evaluate(() => window.cloonixGui.nodePosition('c1'));
      if (!stored || Math.abs(p.x - stored.x) > 0.6 || Math.abs(p.y - stored.y) > 0.6) {
        throw new Error(`c1 at ${JSON.stringify(p)}, stored ${JSON.stringify(stored)}`);
      }
    });

    await check("double-click c1: the in-page terminal runs hostname", async () => {
      const at = await page.evaluate(() => window.cloonixGui.renderedPosition('c1'));
      await page.mouse.click(at.x, at.y, {clickCount: 1});
      await page.mouse.click(at.x, at.y, {clickCount: 2});
      await page.waitForSelector('section.term[data-item="c1"] .xterm', {timeout: 10000});
      await sleep(1500);  // the shell's prompt
      await page.keyboard.type('hostname; echo done-$((6*7))\r');
      await until('hostname output', async () => {
        const t = await page.evaluate(() => window.cloonixGui.termText());
        return /\nc1\s*\n/.test(t) && t.includes('done-42');
      }, 20000);
    });
    await page.screenshot({path: path.join(outDir, 'gui-terminal.png')});

    await check("vm1's serial console in the page shows what the guest writes to it", async () => {
      await nodeMenu('vm1', 'Serial console');
      await page.waitForSelector('section.term[data-item="vm1"][data-mode="console"] .xterm', {timeout: 10000});
      await sleep(1000);
      const mark = `gui-console-${process.pid}`;
      cloonix('ssh', 'vm1', `echo ${mark} > /dev/console`);
      await until('the mark on the console', async () =>
        (await page.evaluate(() => window.cloonixGui.termText())).includes(mark), 15000);
    });
    await check('closing the terminals removes them from the page', async () => {
      await page.$$eval('section.term header button', (bs) => bs.forEach((b) => b.click()));
      const left = await page.$$eval('section.term', (t) => t.length);
      if (left !== 0) throw new Error(`${left} terminal(s) left`);
    });

    await check('right-click the background, Add lan: the lan is in cloonix ls', async () => {
      const spot = await emptySpot(page);
      await page.mouse.click(spot.x, spot.y, {button: 'right'});
      await page.waitForSelector('#menu:not([hidden]) button', {timeout: 5000});
      const clicked = await page.$$eval('#menu button', (bs) => {
        const b = bs.find((x) => x.textContent.startsWith('Add lan'));
        if (b) b.click();
        return !!b;
      });
      if (!clicked) throw new Error('no "Add lan" in the menu');
      await page.waitForSelector('dialog#form[open] input[name="name"]', {timeout: 5000});
      await page.$eval('dialog#form input[name="name"]', (i) => { i.value = 'lanmenu'; });
      await page.click('#form-ok');
      await until('lanmenu in cloonix ls', () => items().some((x) => x.name === 'lanmenu' && x.kind === 'ITEM_KIND_LAN'), 10000);
      await until('lanmenu in the page', async () => (await rows()).some((x) => x.name === 'lanmenu'), 10000);
    });
    await check('right-click ab1, Impairment dir0: the delay is set in the net', async () => {
      await nodeMenu('ab1', 'Impairment dir0');
      await page.waitForSelector('dialog#form[open] input[name="delay_ms"]', {timeout: 5000});
      await page.$eval('dialog#form input[name="delay_ms"]', (i) => { i.value = '25'; });
      await page.click('#form-ok');
      await until('ab1 dir0 delay 25 ms', () => {
        const ab = items().find((x) => x.name === 'ab1');
        return ab && ab.a2b && ab.a2b.dir0 && ab.a2b.dir0.delay_ms === 25;
      }, 10000);
    });
    await check('right-click lan1, Capture: a pcap is downloaded', async () => {
      const cdp = await page.createCDPSession();
      await cdp.send('Browser.setDownloadBehavior', {behavior: 'allow', downloadPath: outDir});
      await nodeMenu('lan1', 'Capture the lan');
      const file = path.join(outDir, 'lan1.pcap');
      await until('lan1.pcap downloaded', () => fs.existsSync(file) && fs.statSync(file).size >= 24, 30000, 500);
      const magic = fs.readFileSync(file).readUInt32LE(0);
      if (magic !== 0xa1b23c4d) throw new Error(`not a nanosecond pcap (magic ${magic.toString(16)})`);
    });
    await check('a refused action shows the net\'s reason in the page', async () => {
      const spot = await emptySpot(page);
      await page.mouse.click(spot.x, spot.y, {button: 'right'});
      await page.waitForSelector('#menu:not([hidden]) button', {timeout: 5000});
      await page.$$eval('#menu button', (bs) => bs.find((x) => x.textContent.startsWith('Add lan')).click());
      await page.waitForSelector('dialog#form[open] input[name="name"]', {timeout: 5000});
      await page.$eval('dialog#form input[name="name"]', (i) => { i.value = 'lanmenu'; });
      await page.click('#form-ok');
      await until('the error line', async () => {
        const t = await page.$eval('#error', (e) => e.textContent);
        return t.includes('ALREADY_EXISTS') && t.includes('lanmenu');
      }, 10000);
    });
    await check('no script error in the page', async () => {
      if (errors.length) throw new Error(errors.join('; '));
    });
  } catch (e) {
    fail('browser session', e.stack || e);
  } finally {
    try { await page.screenshot({path: path.join(outDir, 'gui-last.png')}); } catch (e) { /* gone */ }
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})();
