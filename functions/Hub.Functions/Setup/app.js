// The Hub's setup page. Plain DOM (textContent only: nothing from the APIs is ever parsed as HTML), no
// dependencies, no inline script (the Content-Security-Policy forbids it). Every call carries the bearer token kept
// in sessionStorage for this tab only; the APIs decide what the token may see.
'use strict';

const TEXTS = {
  en: {
    title: 'Hub', signIn: 'Sign in', signOut: 'Sign out', tenant: 'Tenant', token: 'Access token',
    tokenHint: 'The admin token is printed when the Hub starts; a tenant token is issued by the admin.',
    dashboard: 'Dashboard', connections: 'Connections', runs: 'Sync history', failures: 'Failures',
    byLifecycle: 'Profiles by lifecycle stage', byValueTier: 'Profiles by value tier', byRfm: 'Profiles by RFM tier', crmToday: 'CRM calls today',
    connection: 'Connection', status: 'Status', lastSync: 'Last sync', nextSync: 'Next sync', records: 'Records',
    progress: 'Backfill', actions: 'Actions', started: 'Started', kind: 'Kind', counts: 'Counts', code: 'Code',
    replayAll: 'Replay all matching', replay: 'Replay', syncNow: 'Sync now', fullSync: 'Full re-sync', pause: 'Pause',
    resume: 'Resume', disconnect: 'Disconnect', confirmDisconnect: 'Disconnect {0}? Its secrets are deleted.',
    signedIn: 'Tenant {0}', profilesTotal: '{0} customer profiles', pulled: '{0} pulled', pushed: '{0} pushed',
    rejected: '{0} failing', none: '—', noFailures: 'No open failures.', replayed: '{0} record(s) back in the outbox.',
    attempts: '{0} attempt(s)', payload: 'Payload (contact data masked)', started2: 'Started {0} run(s).',
    badToken: 'Sign-in failed: {0}', store: 'store', crm: 'CRM', active: 'active', paused: 'paused', noCalls: 'No CRM calls today.',
    running: 'running', queued: 'queued', succeeded: 'succeeded', failed: 'failed', busy: 'already running',
    'seg.none': 'none',
    connect: 'Connect a store or CRM', connector: 'Platform', connectionId: 'Connection id', displayName: 'Name',
    backfillStart: 'Backfill from', testAndSave: 'Test and save', connected: '{0} connected: the credentials work.',
    refused: '{0}: {1}', oauthOnly: '{0} connects with OAuth, which this page does not offer yet.',
    shop: 'Shop domain (name.myshopify.com)', accessToken: 'Access token', storeUrl: 'Store URL', consumerKey: 'Consumer key',
    consumerSecret: 'Consumer secret', kdtId: 'Shop id (kdt_id)', clientId: 'Client id', clientSecret: 'Client secret',
    appKey: 'App key', appSecret: 'App secret', session: 'Session key', host: 'API host', currentOpenUserId: 'Operator open user id',
    appId: 'App id', permanentCode: 'Permanent code',
  },
  zh: {
    title: 'Hub 数据中枢', signIn: '登录', signOut: '退出', tenant: '租户', token: '访问令牌',
    tokenHint: '管理员令牌在 Hub 启动时打印；租户令牌由管理员签发。',
    dashboard: '概览', connections: '连接', runs: '同步记录', failures: '失败记录',
    byLifecycle: '按生命周期划分的客户', byValueTier: '按价值等级划分的客户', byRfm: '按 RFM 分层的客户', crmToday: '今日 CRM 调用',
    connection: '连接', status: '状态', lastSync: '上次同步', nextSync: '下次同步', records: '记录数',
    progress: '历史回填', actions: '操作', started: '开始时间', kind: '类型', counts: '计数', code: '代码',
    replayAll: '重放所有匹配项', replay: '重放', syncNow: '立即同步', fullSync: '全量重新同步', pause: '暂停',
    resume: '恢复', disconnect: '断开', confirmDisconnect: '确定断开 {0}？其密钥将被删除。',
    signedIn: '租户 {0}', profilesTotal: '共 {0} 个客户档案', pulled: '拉取 {0}', pushed: '推送 {0}',
    rejected: '失败 {0}', none: '—', noFailures: '没有未解决的失败记录。', replayed: '{0} 条记录已重新进入发送队列。',
    attempts: '已尝试 {0} 次', payload: '发送内容（联系方式已遮蔽）', started2: '已开始 {0} 个同步任务。',
    badToken: '登录失败：{0}', store: '店铺', crm: 'CRM', active: '运行中', paused: '已暂停', noCalls: '今日尚无 CRM 调用。',
    running: '进行中', queued: '排队中', succeeded: '成功', failed: '失败', busy: '正在运行',
    'seg.none': '无', 'seg.new': '新客', 'seg.active': '活跃', 'seg.sleeping': '沉睡', 'seg.churned': '流失', 'seg.prospect': '潜在',
    'seg.high': '高', 'seg.medium': '中', 'seg.low': '低', 'seg.champions': '重要价值', 'seg.loyal': '忠诚', 'seg.promising': '潜力',
    'seg.at_risk': '流失风险', 'seg.hibernating': '休眠',
    connect: '连接店铺或 CRM', connector: '平台', connectionId: '连接标识', displayName: '名称',
    backfillStart: '历史数据起始日', testAndSave: '测试并保存', connected: '{0} 已连接：凭据有效。',
    refused: '{0}：{1}', oauthOnly: '{0} 通过 OAuth 授权连接，本页面暂不支持。',
    shop: '店铺域名 (name.myshopify.com)', accessToken: '访问令牌', storeUrl: '店铺网址', consumerKey: 'Consumer key',
    consumerSecret: 'Consumer secret', kdtId: '店铺 ID (kdt_id)', clientId: 'Client ID', clientSecret: 'Client secret',
    appKey: 'App Key', appSecret: 'App Secret', session: 'Session Key', host: 'API 地址', currentOpenUserId: '操作人 openUserId',
    appId: 'App ID', permanentCode: '永久授权码',
  },
};
const LANG = (navigator.languages || [navigator.language || 'en']).some(l => l.toLowerCase().startsWith('zh')) ? 'zh' : 'en';
const T = TEXTS[LANG];
const t = (key, ...args) => (T[key] || TEXTS.en[key] || key).replace(/\{(\d)\}/g, (_, i) => String(args[Number(i)]));
const $ = id => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'text') node.textContent = v;
    else if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

const session = {
  get tenant() { return sessionStorage.getItem('hub.tenant'); },
  get token() { return sessionStorage.getItem('hub.token'); },
  set(tenant, token) { sessionStorage.setItem('hub.tenant', tenant); sessionStorage.setItem('hub.token', token); },
  clear() { sessionStorage.removeItem('hub.tenant'); sessionStorage.removeItem('hub.token'); },
};

async function api(method, path, params, body) {
  const query = new URLSearchParams({ tenant: session.tenant, ...(params || {}) });
  const headers = { Authorization: `Bearer ${session.token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`/api/${path}?${query}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const answer = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const error = new Error(answer.detail || answer.title || String(response.status));
    error.status = response.status;
    throw error;
  }
  return answer;
}

function when(value) {
  return value ? new Date(value).toLocaleString(LANG === 'zh' ? 'zh-CN' : 'en') : t('none');
}

// Contact data in payloads is masked on the page: enough to recognise a record, not to read it.
function mask(value) {
  if (typeof value !== 'string') return value;
  if (/^[^@\s]+@[^@\s]+$/.test(value)) return value[0] + '***@' + value.split('@')[1];
  if (/^\+?[\d\s-]{7,}$/.test(value)) return value.slice(0, 3) + '****' + value.slice(-2);
  return value;
}

function maskAll(token) {
  if (Array.isArray(token)) return token.map(maskAll);
  if (token && typeof token === 'object') return Object.fromEntries(Object.entries(token).map(([k, v]) => [k, maskAll(v)]));
  return mask(token);
}

function barChart(counts, label) {
  const entries = Object.entries(counts || {});
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const rowHeight = 22;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 300 ${Math.max(1, entries.length) * rowHeight}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${label}: ${entries.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  entries.forEach(([key, n], i) => {
    const y = i * rowHeight;
    const name = document.createElementNS(ns, 'text');
    name.setAttribute('x', '0'); name.setAttribute('y', String(y + 15)); name.textContent = T['seg.' + key] || key; // segment values as the rules name them, translated where known
    const bar = document.createElementNS(ns, 'rect');
    bar.setAttribute('x', '100'); bar.setAttribute('y', String(y + 4)); bar.setAttribute('height', '14');
    bar.setAttribute('width', String(Math.max(1, 160 * n / max))); bar.setAttribute('fill', '#0b63ce');
    const value = document.createElementNS(ns, 'text');
    value.setAttribute('x', String(104 + 160 * n / max)); value.setAttribute('y', String(y + 15)); value.textContent = String(n);
    svg.append(name, bar, value);
  });
  return svg;
}

async function loadDashboard() {
  const [profiles, runs] = await Promise.all([api('GET', 'profiles'), api('GET', 'runs', { top: 200 })]);
  $('profile-total').textContent = t('profilesTotal', profiles.total);
  $('chart-lifecycle').replaceChildren(barChart(profiles.byLifecycle, t('byLifecycle')));
  $('chart-value').replaceChildren(barChart(profiles.byValueTier, t('byValueTier')));
  $('chart-rfm').replaceChildren(barChart(profiles.byRfmTier, t('byRfm')));
  const today = new Date().toISOString().slice(0, 10);
  const calls = {};
  for (const run of runs.runs.filter(r => r.kind === 'push' && (r.startedAt || '').startsWith(today))) {
    calls[run.connectionId] = (calls[run.connectionId] || 0) + (run.calls || 0);
  }
  $('chart-calls').replaceChildren(Object.keys(calls).length ? barChart(calls, t('crmToday')) : el('p', { text: t('noCalls') }));
}

async function loadConnections() {
  const { connections } = await api('GET', 'connections');
  const rows = connections.map(c => {
    const backfill = c.running.find(r => r.kind === 'pull' && r.progress !== null && r.progress !== undefined);
    const progress = backfill ? Math.round(backfill.progress * 100) : (c.lastSync && c.kind === 'store' ? 100 : null);
    const action = (name, handler) => el('button', { type: 'button', text: t(name), 'data-action': name, 'data-connection': c.id, onclick: handler });
    const actions = el('div', { class: 'actions' });
    if (c.kind === 'store' && c.status === 'active') {
      actions.append(action('syncNow', () => sync(c.id, false)), action('fullSync', () => sync(c.id, true)));
    }
    actions.append(c.status === 'active'
      ? action('pause', () => act('POST', `connections/${encodeURIComponent(c.id)}/pause`))
      : action('resume', () => act('POST', `connections/${encodeURIComponent(c.id)}/resume`)));
    actions.append(action('disconnect', () => {
      if (confirm(t('confirmDisconnect', c.displayName))) act('DELETE', `connections/${encodeURIComponent(c.id)}`);
    }));
    const counts = c.kind === 'store' ? t('pulled', c.pulled) : `${t('pushed', c.pushed)} · ${t('rejected', c.rejected)}`;
    return el('tr', { 'data-connection': c.id },
      el('th', { scope: 'row' }, el('span', { text: c.displayName }), el('br'), el('small', { text: `${c.connector} · ${t(c.kind)}` })),
      el('td', { class: `status-${c.status}`, text: t(c.status) }),
      el('td', { text: c.lastSync ? `${when(c.lastSync.finishedAt)} (${t(c.lastSync.status)})` : t('none') }),
      el('td', { text: c.nextSync ? when(c.nextSync) : t('none') }),
      el('td', { text: counts }),
      el('td', {}, progress === null ? t('none') : el('progress', { max: 100, value: progress, 'aria-label': `${t('progress')} ${c.displayName}`, 'aria-valuenow': progress, 'data-progress': progress }),
        progress === null ? null : el('span', { text: ` ${progress}%` })),
      el('td', {}, actions));
  });
  $('connection-rows').replaceChildren(...rows);
}

async function sync(id, full) {
  const answer = await api('POST', 'sync', { connection: id, ...(full ? { full: 'true' } : {}) });
  $('connection-note').textContent = t('started2', (answer.started || []).length);
  await loadConnections();
}

// Which settings and secrets each key/secret platform takes (the connectors' documented connection fields).
const FORMS = {
  shopify: { settings: ['shop'], secrets: ['accessToken'] },
  woocommerce: { settings: ['storeUrl'], secrets: ['consumerKey', 'consumerSecret'] },
  youzan: { settings: ['kdtId'], secrets: ['clientId', 'clientSecret'] },
  tmall: { settings: [], secrets: ['appKey', 'appSecret', 'session'] },
  hubspot: { settings: [], secrets: ['accessToken'] },
  fxiaoke: { settings: ['host', 'currentOpenUserId'], secrets: ['appId', 'appSecret', 'permanentCode'] },
};

async function loadConnectors() {
  const { connectors } = await api('GET', 'connectors');
  $('connect-connector').replaceChildren(...connectors.map(c => el('option', { value: c.id, text: `${c.displayName} (${t(c.kind)})` })));
  drawConnectFields();
}

function drawConnectFields() {
  const connector = $('connect-connector').value;
  const form = FORMS[connector];
  $('connect-error').textContent = form ? '' : t('oauthOnly', connector);
  const fields = [];
  for (const [group, names] of Object.entries(form || { settings: [], secrets: [] })) {
    for (const name of names) {
      const id = `connect-${group}-${name}`;
      fields.push(el('label', { for: id, text: t(name) }),
        el('input', { id, name, 'data-group': group, required: true, type: group === 'secrets' ? 'password' : 'text', autocomplete: 'off' }));
    }
  }
  $('connect-fields').replaceChildren(...fields);
}

async function connect(event) {
  event.preventDefault();
  const body = { connector: $('connect-connector').value, id: $('connect-id').value.trim(), displayName: $('connect-name').value.trim(), settings: {}, secrets: {} };
  if ($('connect-backfill').value) body.backfillStart = $('connect-backfill').value;
  for (const input of $('connect-fields').querySelectorAll('input')) body[input.dataset.group][input.name] = input.value.trim();
  try {
    await api('POST', 'connections', {}, body);
    $('connect-error').textContent = '';
    $('connection-note').textContent = t('connected', body.id);
    for (const input of $('connect-fields').querySelectorAll('input')) input.value = ''; // secrets leave the page at once
    await loadConnections();
  } catch (error) {
    $('connect-error').textContent = t('refused', body.id, error.message);
  }
}

async function act(method, path) {
  await api(method, path);
  await loadConnections();
}

async function loadRuns() {
  const { runs } = await api('GET', 'runs', { top: 100 });
  $('run-rows').replaceChildren(...runs.map(r => el('tr', {},
    el('td', { text: when(r.startedAt) }),
    el('td', { text: `${r.kind}${r.trigger ? ' · ' + r.trigger : ''}` }),
    el('td', { text: r.connectionId || t('none') }),
    el('td', { class: `status-${r.status}`, text: t(r.status) }),
    el('td', { text: r.kind === 'push' ? `+${r.created} ~${r.updated} =${r.unchanged} ✗${r.rejected}` : `${r.records} (${r.pages} p)` }))));
}

async function loadFailures() {
  const { failures } = await api('GET', 'failures');
  if (failures.length === 0) {
    $('failure-list').replaceChildren(el('li', { text: t('noFailures') }));
    return;
  }
  $('failure-list').replaceChildren(...failures.map(f => el('li', { 'data-profile': f.profileId },
    el('strong', { text: `${f.connectionId} / ${f.module}: ${f.code}` }),
    el('p', { class: 'message', text: f.message }),
    el('p', { text: `${t('attempts', f.attempts)} · ${when(f.lastFailedAt)} · ${f.profileId}` }),
    el('details', {}, el('summary', { text: t('payload') }), el('pre', { text: JSON.stringify(maskAll(f.payload), null, 2) })),
    el('button', { type: 'button', text: t('replay'), 'data-action': 'replay', onclick: () => replay({ connection: f.connectionId, profile: f.profileId }) }))));
}

async function replay(filter) {
  const clean = Object.fromEntries(Object.entries(filter).filter(([, v]) => v));
  const answer = await api('POST', 'failures/replay', clean);
  $('failure-note').textContent = t('replayed', answer.replayed);
  await loadFailures();
}

let connectorsLoaded = false;
const loaders = {
  dashboard: loadDashboard,
  connections: async () => {
    if (!connectorsLoaded) { await loadConnectors(); connectorsLoaded = true; }
    await loadConnections();
  },
  runs: loadRuns,
  failures: loadFailures,
};
let current = 'dashboard';
let timer = null;

async function show(tab) {
  current = tab;
  for (const section of document.querySelectorAll('.tab')) section.hidden = section.id !== tab;
  for (const button of document.querySelectorAll('[data-tab]')) button.setAttribute('aria-pressed', String(button.dataset.tab === tab));
  await refresh();
}

async function refresh() {
  try {
    await loaders[current]();
  } catch (error) {
    if (error.status === 401 || error.status === 403) {
      signOut(t('badToken', error.message));
    } else {
      $('failure-note').textContent = error.message;
    }
  }
}

function signedIn() {
  $('signin').hidden = true;
  $('tabs').hidden = false;
  $('signout').hidden = false;
  $('who').textContent = t('signedIn', session.tenant);
  clearInterval(timer);
  timer = setInterval(refresh, 2000);
  return show(current);
}

function signOut(message) {
  session.clear();
  clearInterval(timer);
  $('signin').hidden = false;
  $('tabs').hidden = true;
  $('signout').hidden = true;
  $('who').textContent = '';
  for (const section of document.querySelectorAll('.tab')) section.hidden = true;
  $('signin-error').textContent = message || '';
}

document.addEventListener('DOMContentLoaded', () => {
  document.documentElement.lang = LANG === 'zh' ? 'zh-CN' : 'en';
  for (const node of document.querySelectorAll('[data-t]')) node.textContent = t(node.dataset.t);
  document.title = t('title');
  $('signin-form').addEventListener('submit', async event => {
    event.preventDefault();
    session.set($('tenant').value.trim(), $('token').value.trim());
    $('token').value = '';
    try {
      await api('GET', 'connections');
      await signedIn();
    } catch (error) {
      signOut(t('badToken', error.message));
    }
  });
  $('signout').addEventListener('click', () => signOut());
  $('connect-connector').addEventListener('change', drawConnectFields);
  $('connect-form').addEventListener('submit', connect);
  for (const button of document.querySelectorAll('[data-tab]')) button.addEventListener('click', () => show(button.dataset.tab));
  $('replay-filter').addEventListener('submit', event => {
    event.preventDefault();
    replay({ connection: $('filter-connection').value.trim(), code: $('filter-code').value.trim() });
  });
  if (session.tenant && session.token) signedIn();
});
