// Roster's web console in a real headless Chromium (the system's, through
// playwright-core), as a person uses it: sign in, search, create a group,
// add and remove members, nest groups, open the nested tree, see members
// at any depth, deactivate a user, watch the change feed (live over its
// stream; polled without EventSource), sign out; then a
// stranger who must not see a private group. Every main page is checked
// with axe-core (no serious or critical violation) and saved as a
// screenshot. Run by crates/roster/tests/it/console_browser.rs, which
// starts the server, seeds it, and passes everything through the
// environment:
//   ROSTER_URL, ROSTER_ADMIN_KEY, ROSTER_STRANGER_KEY, ROSTER_PRIVATE_GROUP,
//   ROSTER_LONG_GROUP, CHROMIUM (the browser's path), NODE_DEPS (the
//   directory holding node_modules), SCREENSHOTS (where to save them).
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const deps = createRequire(path.join(process.env.NODE_DEPS, 'package.json'));
const { chromium } = deps('playwright-core');
const axeSource = fs.readFileSync(deps.resolve('axe-core/axe.min.js'), 'utf8');

const base = process.env.ROSTER_URL;
const shots = process.env.SCREENSHOTS;
const problems = [];
let lastPage = null;

function check(condition, message) {
  if (!condition) {
    problems.push(message);
    console.log(`FAIL ${message}`);
  }
}

async function axe(page, name) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    return await axe.run(document, { resultTypes: ['violations'] });
  });
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of bad) {
    const where = v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ');
    check(false, `axe on ${name}: ${v.impact} ${v.id} (${v.help}) at ${where}`);
  }
  console.log(`axe ${name}: ${result.violations.length} violations, ${bad.length} serious or critical`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

/// A main page: checked for accessibility and saved.
async function visit(page, name) {
  await axe(page, name);
  await shot(page, name);
}

async function fits(page, name) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  const viewport = page.viewportSize().width;
  if (width > viewport + 1) {
    const wide = await page.evaluate((w) => {
      const out = [];
      for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.right > w + 1 && !el.closest('.scroll')) out.push(`${el.tagName.toLowerCase()}.${el.className} (${Math.round(r.right)} px)`);
      }
      return out.slice(0, 5).join(', ');
    }, viewport);
    check(false, `${name} at ${viewport} px is ${width} px wide: ${wide}`);
  }
}

/// Clicks what submits a form, and waits for the page it leads to.
async function submit(page, selector) {
  console.log(`submit ${selector} on ${page.url()}`);
  lastPage = page;
  await Promise.all([page.waitForEvent('load'), page.click(selector)]);
}

async function signIn(page, key) {
  await page.goto(`${base}/`);
  check(page.url().includes('/sign-in'), `a new visitor is sent to sign in, not ${page.url()}`);
  await page.fill('#key', key);
  await submit(page, 'button[type=submit]');
}

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    // axe is injected as a script: CSP bypassed for the test only.
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);

    await page.goto(`${base}/sign-in`);
    await visit(page, '01-sign-in');
    await signIn(page, process.env.ROSTER_ADMIN_KEY);
    check((await page.textContent('h1')) === 'Overview', 'the overview after signing in');
    await visit(page, '02-overview');

    // Search as you type (htmx), and without JavaScript's help (the form).
    await page.goto(`${base}/users`);
    await page.fill('#user-q', 'ali');
    await page.waitForFunction(() => {
      const t = document.querySelector('#results');
      return t && t.textContent.includes('alice') && !t.textContent.includes('bob');
    });
    check(page.url().includes('q=ali'), `the search is in the address: ${page.url()}`);
    await visit(page, '03-users-search');

    // Create a group.
    await page.goto(`${base}/groups`);
    await page.fill('#new-name', 'browser-team');
    await page.fill('#new-description', 'made in Chromium');
    await Promise.all([page.waitForURL(/\/groups\/[0-9a-f-]{36}$/), page.click('button:text-is("Create group")')]);
    const team = page.url();
    check((await page.textContent('h1')) === 'browser-team', 'the new group page');

    // An error is shown by the field the server names.
    await page.goto(`${base}/groups`);
    await page.fill('#new-name', 'browser-team');
    await page.click('button:text-is("Create group")');
    await page.waitForSelector('#new-name-error');
    check((await page.getAttribute('#new-name', 'aria-invalid')) === 'true', 'the field is marked invalid');
    await visit(page, '04-groups-with-error');

    // Add and remove members.
    await page.goto(team);
    for (const who of ['alice', 'bob']) {
      await page.fill('#add-username', who);
      await submit(page, 'button:text-is("Add member")');
    }
    let members = await page.textContent('#members ~ .scroll');
    check(members.includes('alice') && members.includes('bob'), 'alice and bob were added');
    await submit(page, 'button[aria-label="Remove bob"]');
    members = await page.textContent('#members ~ .scroll');
    check(members.includes('alice') && !members.includes('bob'), 'bob was removed');
    await page.selectOption('select[id^="role-"]', 'admin');
    await submit(page, 'button[aria-label="Save the role of alice"]');
    check((await page.inputValue('select[id^="role-"]')) === 'admin', 'alice is an admin of the group');
    // Her admin permissions: all but removing members.
    await page.click('td.perms summary');
    await page.uncheck('td.perms input[name="remove_members"]');
    await submit(page, 'button:text-is("Save permissions")');
    check(!(await page.isChecked('td.perms input[name="remove_members"]')), 'alice may not remove members');
    check(await page.isChecked('td.perms input[name="add_members"]'), 'alice may add members');

    // Nest: seeded-leaf (carol's group, holding dave's) into a new group,
    // that one into browser-team.
    await page.goto(`${base}/groups`);
    await page.fill('#new-name', 'browser-sub');
    await Promise.all([page.waitForURL(/\/groups\/[0-9a-f-]{36}$/), page.click('button:text-is("Create group")')]);
    await page.fill('#add-child', 'seeded-leaf');
    await submit(page, 'button:text-is("Nest group")');
    await page.goto(team);
    await page.fill('#add-child', 'browser-sub');
    await submit(page, 'button:text-is("Nest group")');
    // A cycle is refused by the field.
    await page.goto(`${base}/groups?q=seeded-leaf`);
    await submit(page, '#results a:text("seeded-leaf")');
    await page.fill('#add-child', 'browser-team');
    await page.click('button:text-is("Nest group")');
    await page.waitForSelector('#add-child-error');
    // The tree opens a level at a time.
    await page.goto(team);
    await page.click('.tree details summary');
    await page.waitForSelector('.tree details .kids a:text("seeded-leaf")');
    await page.click('.tree details details summary');
    await page.waitForSelector('.tree details details .kids a:text("seeded-nested")');
    await visit(page, '05-group');
    // And upwards, from the bottom: seeded-nested is in seeded-leaf, in
    // browser-sub, in browser-team.
    await page.goto(`${base}/groups?q=seeded-nested`);
    await submit(page, '#results a:text("seeded-nested")');
    await page.click('.tree details summary');
    await page.waitForSelector('.tree details .kids a:text("browser-sub")');
    await page.click('.tree details details summary');
    await page.waitForSelector('.tree details details .kids a:text("browser-team")');
    await page.goto(team);

    // Members at any depth.
    await submit(page, 'a:text-is("Members at any depth")');
    const everyone = await page.textContent('main');
    for (const who of ['alice', 'carol', 'dave']) {
      check(everyone.includes(who), `${who} is in browser-team at some depth`);
    }
    check(!everyone.includes('bob'), 'bob is not');
    await visit(page, '06-members-at-any-depth');

    // Deactivate a user.
    await page.goto(`${base}/users?q=carol`);
    await submit(page, '#results a:text("carol")');
    await submit(page, 'button:text-is("Deactivate carol")');
    check((await page.textContent('main')).includes('inactive'), 'carol is inactive');
    await visit(page, '07-user');

    // The change feed, live over the event stream: a change made elsewhere
    // appears by itself, and the page never polls.
    const makeGroup = async (name) => {
      const made = await fetch(`${base}/v1/groups`, {
        method: 'POST',
        headers: { authorization: `Bearer ${process.env.ROSTER_ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      check(made.status === 201, `a group made over the API: ${made.status}`);
    };
    const shown = (p, name) =>
      p.waitForFunction((n) => document.querySelector('#feed').textContent.includes(n), name, { timeout: 10000 });
    const polls = [];
    const onRequest = (r) => {
      if (r.url().includes('/events/poll')) polls.push(r.url());
    };
    page.on('request', onRequest);
    await page.goto(`${base}/events`);
    await page.waitForSelector('#poller[data-live="stream"]', { state: 'attached', timeout: 10000 });
    await visit(page, '08-changes');
    await makeGroup('made-while-watching');
    await shown(page, 'made-while-watching');
    check(page.url() === `${base}/events`, `no reload: ${page.url()}`);
    check(polls.length === 0, `the stream, not the poll: ${polls.join(', ')}`);
    page.off('request', onRequest);

    // Without EventSource the page falls back to polling.
    const old = await context.newPage();
    await old.addInitScript(() => {
      delete window.EventSource;
    });
    let polled = 0;
    old.on('request', (r) => {
      if (r.url().includes('/events/poll')) polled += 1;
    });
    await old.goto(`${base}/events`);
    await makeGroup('made-while-polling');
    await shown(old, 'made-while-polling');
    check(polled > 0, 'without EventSource the feed polls');
    check((await old.getAttribute('#poller', 'data-live')) === null, 'and opens no stream');
    await old.close();
    await page.goto(`${base}/keys`);
    await visit(page, '09-keys');

    // Narrow screens: nothing wider than the window, long names included.
    await page.setViewportSize({ width: 360, height: 800 });
    for (const [name, url] of [
      ['10-narrow-group', `${base}/groups/${process.env.ROSTER_LONG_GROUP}`],
      ['11-narrow-groups', `${base}/groups`],
      ['12-narrow-overview', `${base}/`],
    ]) {
      await page.goto(url);
      await fits(page, name);
      await shot(page, name);
    }
    await page.setViewportSize({ width: 1280, height: 900 });

    // Keyboard: the skip link is the first stop, and leads to the content.
    await page.goto(`${base}/groups`);
    await page.keyboard.press('Tab');
    check((await page.evaluate(() => document.activeElement.textContent)) === 'Skip to content', 'skip link first');

    // Sign out: the session is gone, and a feed left open in another tab
    // goes to the sign-in form by itself (its stream ends with the session).
    const watching = await context.newPage();
    await watching.goto(`${base}/events`);
    await watching.waitForSelector('#poller[data-live="stream"]', { state: 'attached', timeout: 10000 });
    await submit(page, 'button:text-is("Sign out")');
    await watching.waitForURL((u) => u.pathname === '/sign-in', { timeout: 10000 });
    await watching.close();
    await page.goto(`${base}/groups`);
    check(page.url().includes('/sign-in'), 'signed out, pages lead to the sign-in form');

    // A stranger cannot see the private group.
    const stranger = await (await browser.newContext({ bypassCSP: true })).newPage();
    await signIn(stranger, process.env.ROSTER_STRANGER_KEY);
    await stranger.goto(`${base}/groups`);
    check(!(await stranger.textContent('main')).includes('private-plans'), 'the private group is not listed');
    const hidden = await stranger.goto(`${base}/groups/${process.env.ROSTER_PRIVATE_GROUP}`);
    check(hidden.status() === 404, `the private group is not found: ${hidden.status()}`);
    check(!(await stranger.content()).includes('private-plans'), 'nor named');
    await visit(stranger, '13-stranger-not-found');
  } catch (e) {
    if (lastPage) {
      await lastPage.screenshot({ path: path.join(shots, 'failed.png'), fullPage: true }).catch(() => {});
      console.error(`the page at ${lastPage.url()} when it failed:`);
      console.error((await lastPage.content().catch(() => '')).slice(0, 20000));
    }
    throw e;
  } finally {
    await browser.close();
  }
  if (problems.length > 0) {
    console.log(`${problems.length} problems:\n${problems.join('\n')}`);
    process.exit(1);
  }
  console.log('console scenario passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
