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
    method: 'How to connect', methodOauth: "Install the Hub's app (OAuth)", methodKey: "Use the app's key or token",
    continueTo: 'Continue to {0}', dataCentre: 'Data centre (accounts server)', callbackHint: 'Callback URL to register with the app: {0}',
    oauthConnected: '{0} connected through OAuth: the tokens work and are stored encrypted.', oauthFailed: 'The connection was not made: {0}',
    rfmGrid: 'RFM grid', rfmAxis: 'Rows: recency score (5 = ordered most recently); columns: frequency score (5 = most orders).',
    newVsReturning: 'New and returning customers by month', newC: 'new', returningC: 'returning',
    throughput: 'Records synced per hour (last 12 hours)', pulledH: 'pulled', pushedH: 'pushed', credits: '{0} credits',
    mappings: 'Mappings', ruleFile: 'Rule file', sampleStore: 'Sample store', entity: 'Records', orders: 'orders', members: 'members',
    targetCrm: 'Target CRM', refreshSample: 'Read new samples', thresholds: 'Segment thresholds', ruleJson: 'Rule (JSON)', note: 'Note',
    saveActivate: 'Validate, save and activate', resetFile: "Back to the Hub's default", sourceFields: 'Source fields (sample)',
    targetFields: 'Target fields (from the CRM)', preview: 'Preview', dryRun: 'Dry run against the CRM', runDryRun: 'Dry run (writes nothing)',
    versions: 'Versions', version: 'Version', saved: 'Saved', files: 'Files', export: 'Export rules (JSON)', import: 'Import rules',
    activate: 'Activate', defaults: "Hub defaults", activeNow: 'active', edited: 'edited', savedVersion: 'Version {0} is active.',
    invalidMapping: 'Not saved: {0}', previewInvalid: 'The rules do not validate ({0} error(s)); the preview waits for a valid rule set.',
    previewSummary: '{0} sample record(s) from {1}, read {2}: {3} create · {4} update · {5} unchanged · {6} invalid; {7} record(s) with errors.',
    previewNoStore: 'Connect a store to preview its records.', mappedRecord: 'Record {0}', profileLine: 'Profile {0}: {1}', payloadLine: '{0} → {1}',
    issues: 'Issues', noIssues: 'no issues', dryRunLine: '{0} ({1}): {2} create · {3} update · {4} unchanged · {5} invalid',
    lifecycleDays: "Lifecycle '{0}': days since last order at most", rfmRecency: 'RFM recency days', rfmFrequency: 'RFM order counts',
    rfmMonetary: 'RFM amounts', imported: 'Imported as version {0}.', mappingsHint: 'Edit a rule file; the preview maps live sample records from the chosen store. Saving validates the whole rule set: an invalid mapping is never activated.',
    required: 'required', readOnly: 'read-only', custom: 'custom', reapplying: 'Re-applying it to {0} stored profile(s); only payloads that change go to the CRM.',
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
    method: '连接方式', methodOauth: '安装 Hub 应用（OAuth 授权）', methodKey: '粘贴访问令牌或密钥',
    continueTo: '前往 {0} 授权', dataCentre: '数据中心（账户服务器）', callbackHint: '需要在应用中登记的回调地址：{0}',
    oauthConnected: '{0} 已通过 OAuth 连接：令牌有效，已加密保存。', oauthFailed: '连接未建立：{0}',
    rfmGrid: 'RFM 矩阵', rfmAxis: '行：最近购买得分（5 = 最近）；列：购买频次得分（5 = 最多）。',
    newVsReturning: '每月新客与回头客', newC: '新客', returningC: '回头客',
    throughput: '每小时同步记录数（近 12 小时）', pulledH: '拉取', pushedH: '推送', credits: '{0} 积分',
    mappings: '字段映射', ruleFile: '规则文件', sampleStore: '样例店铺', entity: '记录类型', orders: '订单', members: '会员',
    targetCrm: '目标 CRM', refreshSample: '重新读取样例', thresholds: '分群阈值', ruleJson: '规则 (JSON)', note: '备注',
    saveActivate: '校验、保存并启用', resetFile: '恢复 Hub 默认', sourceFields: '源字段（样例）',
    targetFields: '目标字段（来自 CRM）', preview: '预览', dryRun: '对 CRM 试运行', runDryRun: '试运行（不写入）',
    versions: '版本', version: '版本', saved: '保存时间', files: '文件', export: '导出规则 (JSON)', import: '导入规则',
    activate: '启用此版本', defaults: 'Hub 默认规则', activeNow: '当前启用', edited: '已修改', savedVersion: '版本 {0} 已启用。',
    invalidMapping: '未保存：{0}', previewInvalid: '规则校验未通过（{0} 个错误），预览将在规则有效后更新。',
    previewSummary: '来自 {1} 的 {0} 条样例记录（读取于 {2}）：新建 {3} · 更新 {4} · 不变 {5} · 无效 {6}；{7} 条记录有错误。',
    previewNoStore: '请先连接店铺以预览其记录。', mappedRecord: '记录 {0}', profileLine: '客户档案 {0}：{1}', payloadLine: '{0} → {1}',
    issues: '问题', noIssues: '无问题', dryRunLine: '{0}（{1}）：新建 {2} · 更新 {3} · 不变 {4} · 无效 {5}',
    lifecycleDays: "生命周期「{0}」：距上次下单天数不超过", rfmRecency: 'RFM 最近购买天数', rfmFrequency: 'RFM 订单数',
    rfmMonetary: 'RFM 金额', imported: '已导入为版本 {0}。', mappingsHint: '编辑规则文件；预览使用所选店铺的实时样例记录。保存时校验全部规则：无效的映射永远不会启用。',
    required: '必填', readOnly: '只读', custom: '自定义', reapplying: '正在将其应用到已有的 {0} 个客户档案；只有发生变化的内容会推送到 CRM。',
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
    else if (k === 'style') Object.assign(node.style, v); // CSSOM, which the CSP allows (style attributes it would block)
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
    error.answer = answer;
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
  if (/^(?!\d{4}-\d{2}-\d{2})\+?[\d\s-]{7,}$/.test(value)) return value.slice(0, 3) + '****' + value.slice(-2);
  return value;
}

function maskAll(token) {
  if (Array.isArray(token)) return token.map(maskAll);
  if (token && typeof token === 'object') return Object.fromEntries(Object.entries(token).map(([k, v]) => [k, maskAll(v)]));
  return mask(token);
}

function barChart(counts, label, suffixes) {
  const entries = Object.entries(counts || {});
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const rowHeight = 22;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 380 ${Math.max(1, entries.length) * rowHeight}`);
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
    value.setAttribute('x', String(104 + 160 * n / max)); value.setAttribute('y', String(y + 15)); value.textContent = `${n}${(suffixes && suffixes[key]) || ''}`;
    svg.append(name, bar, value);
  });
  return svg;
}

// Columns of stacked bars (e.g. new and returning per month): series = [[name, color, values]], labels under each column.
function columnChart(labels, series, label) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const width = Math.max(300, labels.length * 48), height = 150, base = 120;
  const totals = labels.map((_, i) => series.reduce((sum, [, , values]) => sum + (values[i] || 0), 0));
  const max = Math.max(1, ...totals);
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width)); svg.setAttribute('height', String(height)); // natural size; CSS shrinks it on small screens
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${label}: ${labels.map((l, i) => `${l} ${series.map(([name, , v]) => `${name} ${v[i] || 0}`).join(' ')}`).join(', ')}`);
  labels.forEach((name, i) => {
    let y = base;
    for (const [, color, values] of series) {
      const h = 100 * (values[i] || 0) / max;
      const bar = document.createElementNS(ns, 'rect');
      bar.setAttribute('x', String(i * 48 + 8)); bar.setAttribute('width', '32');
      bar.setAttribute('y', String(y - h)); bar.setAttribute('height', String(h)); bar.setAttribute('fill', color);
      svg.append(bar);
      y -= h;
    }
    const total = document.createElementNS(ns, 'text');
    total.setAttribute('x', String(i * 48 + 8)); total.setAttribute('y', String(Math.max(10, y - 3))); total.textContent = String(totals[i]);
    const text = document.createElementNS(ns, 'text');
    text.setAttribute('x', String(i * 48 + 4)); text.setAttribute('y', String(base + 16)); text.textContent = name;
    svg.append(total, text);
  });
  const legend = el('p', { class: 'hint' }, ...series.map(([name, color]) => el('span', { text: `■ ${name}  `, style: { color } })));
  return el('div', {}, svg, legend);
}

function rfmGrid(grid) {
  const max = Math.max(1, ...grid.flat());
  const rows = grid.map((row, i) => el('tr', {}, el('th', { scope: 'row', text: `R${5 - i}` }),
    ...row.map((n, j) => el('td', { text: String(n), title: `R${5 - i} F${j + 1}: ${n}`, 'data-rf': `${5 - i}${j + 1}`,
      style: { background: `rgba(11, 99, 206, ${(0.08 + 0.8 * n / max).toFixed(2)})`, color: n / max > 0.5 ? '#fff' : 'inherit' } }))));
  return el('div', {}, el('table', { class: 'rfm', 'aria-describedby': 'rfm-axis' },
    el('thead', {}, el('tr', {}, el('td'), ...[1, 2, 3, 4, 5].map(f => el('th', { scope: 'col', text: `F${f}` })))),
    el('tbody', {}, ...rows)), el('p', { id: 'rfm-axis', class: 'hint', text: t('rfmAxis') }));
}

async function loadDashboard() {
  const [profiles, runs] = await Promise.all([api('GET', 'profiles'), api('GET', 'runs', { top: 200 })]);
  $('profile-total').textContent = t('profilesTotal', profiles.total);
  $('chart-lifecycle').replaceChildren(barChart(profiles.byLifecycle, t('byLifecycle')));
  $('chart-value').replaceChildren(barChart(profiles.byValueTier, t('byValueTier')));
  $('chart-rfm').replaceChildren(barChart(profiles.byRfmTier, t('byRfm')));
  $('chart-rfm-grid').replaceChildren(rfmGrid(profiles.rfmGrid || [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]));
  const months = profiles.newVsReturning || [];
  $('chart-new-returning').replaceChildren(columnChart(months.map(m => m.month.slice(2)),
    [[t('newC'), '#1b7f3b', months.map(m => m.new)], [t('returningC'), '#0b63ce', months.map(m => m.returning)]], t('newVsReturning')));
  const today = new Date().toISOString().slice(0, 10);
  const calls = {};
  for (const run of runs.runs.filter(r => r.kind === 'push' && (r.startedAt || '').startsWith(today))) {
    calls[run.connectionId] = (calls[run.connectionId] || { calls: 0, credits: 0 });
    calls[run.connectionId].calls += run.calls || 0;
    calls[run.connectionId].credits += run.credits || 0;
  }
  const callCounts = Object.fromEntries(Object.entries(calls).map(([id, c]) => [id, c.calls]));
  const credits = Object.fromEntries(Object.entries(calls).filter(([, c]) => c.credits).map(([id, c]) => [id, ` · ${t('credits', c.credits)}`]));
  $('chart-calls').replaceChildren(Object.keys(callCounts).length ? barChart(callCounts, t('crmToday'), credits) : el('p', { text: t('noCalls') }));
  // Throughput: records pulled and profiles pushed per hour, from the runs that started in the last 12 hours.
  const hours = [...Array(12).keys()].map(i => new Date(Date.now() - (11 - i) * 3600_000).toISOString().slice(0, 13));
  const pulled = hours.map(h => runs.runs.filter(r => r.kind === 'pull' && (r.startedAt || '').startsWith(h)).reduce((n, r) => n + (r.records || 0), 0));
  const pushed = hours.map(h => runs.runs.filter(r => r.kind === 'push' && (r.startedAt || '').startsWith(h)).reduce((n, r) => n + (r.created || 0) + (r.updated || 0), 0));
  $('chart-throughput').replaceChildren(columnChart(hours.map(h => `${h.slice(11)}h`), [[t('pulledH'), '#6a4fb3', pulled], [t('pushedH'), '#0b63ce', pushed]], t('throughput')));
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

// What an OAuth install asks before leaving for the platform: Shopify's shop domain, Zoho's data centre.
const OAUTH_ACCOUNT = { shopify: 'shop', 'zoho-crm': 'dataCentre' };
let CONNECTORS = [];

async function loadConnectors() {
  ({ connectors: CONNECTORS } = await api('GET', 'connectors'));
  $('connect-connector').replaceChildren(...CONNECTORS.map(c => el('option', { value: c.id, text: `${c.displayName} (${t(c.kind)})` })));
  drawConnectFields();
}

function connectMethod() {
  const connector = CONNECTORS.find(c => c.id === $('connect-connector').value) || {};
  const both = connector.oauth && FORMS[connector.id];
  $('connect-method').hidden = !both;
  return { connector, oauth: connector.oauth && (!FORMS[connector.id] || $('method-oauth').checked) };
}

function drawConnectFields() {
  const { connector, oauth } = connectMethod();
  const form = FORMS[connector.id];
  $('connect-error').textContent = '';
  const fields = [];
  if (oauth) {
    const account = OAUTH_ACCOUNT[connector.id];
    if (account === 'dataCentre') {
      fields.push(el('label', { for: 'connect-account', text: t('dataCentre') }),
        el('select', { id: 'connect-account', name: 'account' }, ...(connector.accounts || []).map(a => el('option', { value: a, text: a }))));
    } else if (account) {
      fields.push(el('label', { for: 'connect-account', text: t(account) }), el('input', { id: 'connect-account', name: 'account', required: true, autocomplete: 'off' }));
    }
  } else {
    for (const [group, names] of Object.entries(form || { settings: [], secrets: [] })) {
      for (const name of names) {
        const id = `connect-${group}-${name}`;
        fields.push(el('label', { for: id, text: t(name) }),
          el('input', { id, name, 'data-group': group, required: true, type: group === 'secrets' ? 'password' : 'text', autocomplete: 'off' }));
      }
    }
  }
  $('connect-callback').textContent = oauth && connector.callbackUrl ? t('callbackHint', connector.callbackUrl) : '';
  $('connect-submit').textContent = oauth ? t('continueTo', connector.displayName) : t('testAndSave');
  $('connect-fields').replaceChildren(...fields);
}

async function connect(event) {
  event.preventDefault();
  const { connector, oauth } = connectMethod();
  const id = $('connect-id').value.trim();
  try {
    if (oauth) {
      // The platform shows its consent screen and sends the browser back to /api/oauth/{connector}/callback, which
      // stores the tokens and returns here with the outcome.
      const body = { id, displayName: $('connect-name').value.trim(), account: $('connect-account') ? $('connect-account').value.trim() : '' };
      if ($('connect-backfill').value) body.backfillStart = $('connect-backfill').value;
      const start = await api('POST', `oauth/${encodeURIComponent(connector.id)}/start`, {}, body);
      window.location.assign(start.authorizeUrl);
      return;
    }
    const body = { connector: connector.id, id, displayName: $('connect-name').value.trim(), settings: {}, secrets: {} };
    if ($('connect-backfill').value) body.backfillStart = $('connect-backfill').value;
    for (const input of $('connect-fields').querySelectorAll('input')) body[input.dataset.group][input.name] = input.value.trim();
    await api('POST', 'connections', {}, body);
    $('connect-error').textContent = '';
    $('connection-note').textContent = t('connected', body.id);
    for (const input of $('connect-fields').querySelectorAll('input')) input.value = ''; // secrets leave the page at once
    await loadConnections();
  } catch (error) {
    $('connect-error').textContent = t('refused', id, error.message);
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


// ---- Mappings: rule files, live preview on sample records, thresholds, save/rollback, export/import, dry run ----
const mapping = { files: [], active: 0, file: null, text: '', timer: null, seq: 0, fieldsFor: null };

async function loadMappings() {
  if (mapping.file) return; // loaded once per visit; the editor is not refreshed under the integrator's hands
  const [list, { connections }] = await Promise.all([api('GET', 'mappings'), api('GET', 'connections')]);
  const stores = connections.filter(c => c.kind === 'store');
  const crms = connections.filter(c => c.kind === 'crm');
  $('mapping-store').replaceChildren(...stores.map(c => el('option', { value: c.id, 'data-connector': c.connector, text: `${c.displayName} (${c.connector})` })));
  $('mapping-crm').replaceChildren(...crms.map(c => el('option', { value: c.id, 'data-connector': c.connector, text: `${c.displayName} (${c.connector})` })));
  drawMappingList(list);
  const firstStore = stores[0] ? stores[0].connector : '';
  const start = list.files.find(f => f.file.startsWith(`sources/${firstStore}/order`)) || list.files[0];
  await openFile(start.file);
}

function drawMappingList(list) {
  mapping.files = list.files;
  mapping.active = list.active;
  const selected = mapping.file;
  $('mapping-file').replaceChildren(...list.files.map(f => el('option', { value: f.file, text: f.edited ? `${f.file} (${t('edited')})` : f.file })));
  if (selected) $('mapping-file').value = selected;
  const row = (version, saved, note, files, active) => el('tr', { 'data-version': version },
    el('td', { text: version === 0 ? t('defaults') : `v${version}${active ? ` (${t('activeNow')})` : ''}` }),
    el('td', { text: saved ? when(saved) : t('none') }), el('td', { text: note || '' }), el('td', { text: files.join(', ') }),
    el('td', {}, active ? null : el('button', { type: 'button', text: t('activate'), 'data-action': 'rollback', onclick: () => rollback(version) })));
  $('version-rows').replaceChildren(...list.versions.map(v => row(v.version, v.createdAt, `${v.note}${v.author ? ` — ${v.author}` : ''}`, v.files, v.active)),
    row(0, null, '', [], list.active === 0));
}

async function openFile(file) {
  const answer = await api('GET', 'mappings/file', { file });
  mapping.file = file;
  $('mapping-file').value = file;
  $('mapping-json').value = answer.json;
  // Source rules preview their own platform's records; pick a store of that platform when there is one.
  const source = file.match(/^sources\/([^/]+)\/([^/.]+)/);
  if (source) {
    const option = [...$('mapping-store').options].find(o => o.dataset.connector === source[1]);
    if (option) $('mapping-store').value = option.value;
    $('mapping-entity').value = source[2] === 'order' ? 'order' : 'member';
  }
  const target = file.match(/^targets\/([^/]+)\//);
  if (target) {
    const option = [...$('mapping-crm').options].find(o => o.dataset.connector === target[1]);
    if (option) $('mapping-crm').value = option.value;
  }
  drawThresholds();
  await loadTargetFields();
  await previewNow();
}

function edits() {
  return { [mapping.file]: $('mapping-json').value };
}

function schedulePreview() {
  clearTimeout(mapping.timer);
  mapping.timer = setTimeout(previewNow, 500);
}

async function previewNow(refresh) {
  const seq = ++mapping.seq;
  const body = { files: edits(), store: $('mapping-store').value || undefined, entity: $('mapping-entity').value, crm: $('mapping-crm').value || undefined, sample: 10 };
  if (refresh === true) body.refresh = true;
  let answer;
  try {
    answer = await api('POST', 'mappings/preview', {}, body);
  } catch (error) {
    if (seq === mapping.seq) $('preview-summary').textContent = error.message;
    return;
  }
  if (seq !== mapping.seq) return; // an older answer arriving after a newer edit
  drawErrors(answer.errors || []);
  if (!answer.valid) {
    $('preview-summary').textContent = t('previewInvalid', answer.errors.length);
    $('preview-out').replaceChildren();
    return;
  }
  if (!answer.sample) {
    $('preview-summary').textContent = t('previewNoStore');
    return;
  }
  const c = answer.counts;
  $('preview-summary').textContent = t('previewSummary', answer.sample.records, answer.sample.store, when(answer.sample.readAt), c.create, c.update, c.unchanged, c.invalid, c.invalidRecords);
  $('source-fields').replaceChildren(...answer.sample.sourceFields.map(f => el('li', { text: f })));
  const payloads = Object.fromEntries((answer.payloads || []).map(p => [p.profileId, p]));
  const issues = list => list.length ? list.map(i => `${i.field}: ${i.message}`).join('; ') : t('noIssues');
  const cards = [];
  for (const profile of answer.profiles.slice(0, 6)) {
    const segs = Object.entries(profile.segments || {}).map(([k, v]) => `${k}: ${v}`).join(', ');
    const payload = payloads[profile.id];
    cards.push(el('article', { class: 'preview-profile', 'data-profile': profile.id },
      el('strong', { text: t('profileLine', profile.id, segs) }),
      el('p', { text: `${profile.metrics ? `${profile.metrics.orderCount} × · ${profile.metrics.totalSpent} ${profile.metrics.currency || ''}` : ''}` }),
      payload ? el('p', { class: `action-${payload.action}`, text: t('payloadLine', payload.action, issues(payload.issues)) }) : null,
      payload ? el('pre', { text: JSON.stringify(payload.payload, null, 2) }) : null));
  }
  for (const record of answer.records.filter(r => r.issues.length).slice(0, 5)) {
    cards.push(el('article', { class: 'preview-record' }, el('strong', { text: t('mappedRecord', record.index) }),
      el('p', { class: record.valid ? '' : 'error', text: `${t('issues')}: ${issues(record.issues)}` })));
  }
  $('preview-out').replaceChildren(...cards);
}

function drawErrors(errors) {
  $('mapping-errors').replaceChildren(...errors.map(e => el('li', { text: `${e.file}: ${e.path}: ${e.message}` })));
}

async function loadTargetFields() {
  const crm = $('mapping-crm').value;
  const target = (mapping.file || '').match(/^targets\/[^/]+\/([^/.]+)/);
  const key = `${crm}|${target ? target[1] : ''}`;
  if (!crm || mapping.fieldsFor === key) return;
  mapping.fieldsFor = key;
  try {
    const params = {};
    if (target) {
      const rule = JSON.parse($('mapping-json').value);
      if (rule.module) params.module = rule.module;
    }
    const answer = await api('GET', `connections/${encodeURIComponent(crm)}/fields`, params);
    $('target-fields').replaceChildren(...answer.fields.map(f => el('li', {
      text: `${f.apiName} · ${f.type}${f.maxLength ? `(${f.maxLength})` : ''}${f.mandatory ? ` · ${t('required')}` : ''}${f.readOnly ? ` · ${t('readOnly')}` : ''}${f.custom ? ` · ${t('custom')}` : ''}${f.options.length ? ` [${f.options.slice(0, 8).join(', ')}]` : ''}`,
    })));
  } catch (error) {
    $('target-fields').replaceChildren(el('li', { class: 'error', text: error.message }));
  }
}

// Segment thresholds as form fields: RFM bounds and the lifecycle's day limits, written back into segments.json.
function drawThresholds() {
  const show = mapping.file === 'segments/segments.json';
  $('thresholds').hidden = !show;
  if (!show) return;
  let doc;
  try { doc = JSON.parse($('mapping-json').value); } catch { return; }
  const fields = [];
  for (const [key, label] of [['recencyDays', 'rfmRecency'], ['frequency', 'rfmFrequency'], ['monetary', 'rfmMonetary']]) {
    if (!doc.rfm || !Array.isArray(doc.rfm[key])) continue;
    const input = el('input', { value: doc.rfm[key].join(', '), 'data-rfm': key, inputmode: 'decimal' });
    input.addEventListener('change', () => updateThreshold(d => { d.rfm[key] = input.value.split(',').map(v => Number(v.trim())).filter(v => !Number.isNaN(v)); }));
    fields.push(el('label', {}, el('span', { text: t(label) }), input));
  }
  const lifecycle = (doc.segments || []).findIndex(sg => sg.name === 'lifecycle');
  if (lifecycle >= 0) {
    doc.segments[lifecycle].rules.forEach((rule, r) => {
      const found = findDays(rule.when);
      if (!found) return;
      const input = el('input', { type: 'number', value: found.node[found.op][1], 'data-lifecycle': rule.value });
      input.addEventListener('change', () => updateThreshold(d => {
        const again = findDays(d.segments[lifecycle].rules[r].when);
        again.node[again.op][1] = Number(input.value);
      }));
      fields.push(el('label', {}, el('span', { text: `${t('lifecycleDays', rule.value)}` }), input));
    });
  }
  $('threshold-fields').replaceChildren(...fields);
}

// The comparison of daysSinceLastOrder with a number inside a condition, wherever it is nested.
function findDays(node) {
  if (!node || typeof node !== 'object') return null;
  for (const op of ['lte', 'lt', 'gte', 'gt']) {
    const args = node[op];
    if (Array.isArray(args) && args[0] && args[0]['@path'] === '$.metrics.daysSinceLastOrder' && typeof args[1] === 'number') return { node, op };
  }
  for (const value of Object.values(node)) {
    const found = Array.isArray(value) ? value.map(findDays).find(Boolean) : findDays(value);
    if (found) return found;
  }
  return null;
}

function updateThreshold(change) {
  const doc = JSON.parse($('mapping-json').value);
  change(doc);
  $('mapping-json').value = JSON.stringify(doc, null, 2);
  schedulePreview();
}

async function saveMapping(event, files) {
  if (event) event.preventDefault();
  try {
    const answer = await api('POST', 'mappings', {}, { files: files || edits(), note: $('mapping-note').value.trim(), baseVersion: mapping.active });
    $('mapping-note-out').textContent = t('savedVersion', answer.active);
    await reapply(t('savedVersion', answer.active));
    drawErrors([]);
    $('mapping-note').value = '';
    await reloadMappingList();
  } catch (error) {
    $('mapping-note-out').textContent = t('invalidMapping', error.message);
    drawErrors(error.answer && error.answer.errors ? error.answer.errors : []);
  }
}

// A saved, rolled-back or imported mapping is applied to every stored profile at once, not only to new records.
async function reapply(message) {
  const answer = await api('POST', 'resegment');
  $('mapping-note-out').textContent = `${message} ${t('reapplying', answer.profiles)}`;
}

async function reloadMappingList() {
  drawMappingList(await api('GET', 'mappings'));
}

async function rollback(version) {
  try {
    const answer = await api('POST', 'mappings/rollback', { version });
    $('mapping-note-out').textContent = t('savedVersion', answer.active);
    await reapply(t('savedVersion', answer.active));
    await reloadMappingList();
    await openFile(mapping.file);
  } catch (error) {
    $('mapping-note-out').textContent = t('invalidMapping', error.message);
    drawErrors(error.answer && error.answer.errors ? error.answer.errors : []);
  }
}

async function exportMappings() {
  const answer = await api('GET', 'mappings/export');
  const link = el('a', { href: URL.createObjectURL(new Blob([JSON.stringify(answer, null, 2)], { type: 'application/json' })), download: `hub-mappings-${session.tenant}-v${answer.version}.json` });
  document.body.append(link);
  link.click();
  link.remove();
}

async function importMappings() {
  const file = $('mapping-import').files[0];
  if (!file) return;
  try {
    const bundle = JSON.parse(await file.text());
    const answer = await api('POST', 'mappings/import', {}, { files: bundle.files, note: `import ${file.name}` });
    $('mapping-note-out').textContent = t('imported', answer.active);
    await reapply(t('imported', answer.active));
    drawErrors([]);
    await reloadMappingList();
    await openFile(mapping.file);
  } catch (error) {
    $('mapping-note-out').textContent = t('invalidMapping', error.message);
    drawErrors(error.answer && error.answer.errors ? error.answer.errors : []);
  }
  $('mapping-import').value = '';
}

async function dryRun() {
  const crm = $('mapping-crm').value;
  if (!crm) return;
  const answer = await api('POST', 'dryrun', { connection: crm, sample: 1000 });
  $('dryrun-out').replaceChildren(...answer.targets.map(target => el('p', { 'data-module': target.module,
    text: t('dryRunLine', target.module, target.rule, target.counts.create, target.counts.update, target.counts.unchanged, target.counts.invalid) })));
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
  mappings: loadMappings,
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
  for (const radio of document.querySelectorAll('#connect-method input')) radio.addEventListener('change', drawConnectFields);
  $('mapping-file').addEventListener('change', () => openFile($('mapping-file').value));
  $('mapping-json').addEventListener('input', () => { drawThresholds(); schedulePreview(); });
  for (const id of ['mapping-store', 'mapping-entity']) $(id).addEventListener('change', () => previewNow());
  $('mapping-crm').addEventListener('change', async () => { await loadTargetFields(); await previewNow(); });
  $('mapping-refresh').addEventListener('click', () => previewNow(true));
  $('mapping-save').addEventListener('submit', event => saveMapping(event));
  $('mapping-reset').addEventListener('click', () => saveMapping(null, { [mapping.file]: null }).then(() => openFile(mapping.file)));
  $('mapping-export').addEventListener('click', exportMappings);
  $('mapping-import').addEventListener('change', importMappings);
  $('dryrun-button').addEventListener('click', () => dryRun().catch(error => { $('dryrun-out').textContent = error.message; }));
  // Back from an OAuth install: say how it went, then drop the outcome from the address bar.
  const outcome = new URLSearchParams(window.location.search);
  if (outcome.has('connected') || outcome.has('oauth_error')) {
    $('oauth-note').textContent = outcome.has('connected') ? t('oauthConnected', outcome.get('connected')) : t('oauthFailed', outcome.get('oauth_error'));
    $('oauth-note').className = outcome.has('connected') ? 'ok' : 'error';
    current = 'connections';
    history.replaceState(null, '', window.location.pathname);
  }
  $('connect-form').addEventListener('submit', connect);
  for (const button of document.querySelectorAll('[data-tab]')) button.addEventListener('click', () => show(button.dataset.tab));
  $('replay-filter').addEventListener('submit', event => {
    event.preventDefault();
    replay({ connection: $('filter-connection').value.trim(), code: $('filter-code').value.trim() });
  });
  if (session.tenant && session.token) signedIn();
});
