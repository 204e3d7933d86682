// The console's words in Simplified Chinese (the default) and English. Static elements carry
// data-i18n (text) or data-i18n-aria (aria-label); scripts call t(key, vars).
const zh = {
  skip: '跳到主要内容', app_title: '罗湖区城市运行指挥中心', login_hint: '请使用工作账号登录',
  username: '用户名', password: '密码', login: '登录', logout: '退出', login_failed: '用户名或密码错误',
  too_many: '尝试次数过多，请稍后再试', nav_main: '主导航', nav_queue: '案件队列', nav_map: '实时地图',
  nav_triage: '待分类', nav_scores: '考核评价', nav_alerts: '告警', nav_insights: '分析研判',
  live_on: '实时', live_off: '未连接', live_wait: '连接中', filters: '筛选', f_status: '状态', f_street: '街道',
  f_overdue: '超期', f_q: '关键词', all: '全部', yes: '是', no: '否', apply: '筛选', bulk: '批量操作',
  bulk_action: '批量操作', bulk_go: '执行', bulk_selected: '已选 {n} 件', bulk_done: '批量{a}：成功 {ok} 件，失败 {fail} 件',
  select_all: '全选', select_case: '选择案件 {id}', c_id: '编号', c_status: '状态', c_category: '类别', c_place: '位置',
  c_desc: '描述', c_deadline: '期限', prev: '上一页', next: '下一页', page_info: '第 {p} / {n} 页，共 {t} 件',
  empty: '暂无案件', back: '返回队列', actions: '可执行操作', no_actions: '当前角色在此状态下无可执行操作',
  comment: '意见', history: '办理记录', photos: '照片', zoom_in: '放大', zoom_out: '缩小', zoom_reset: '全区',
  map_label: '罗湖区案件地图：方向键平移，加减号缩放', map_count: '地图上 {n} 件案件', triage_hint: '智能分类无法确定类别的案件，请人工确认类别后立案。',
  triage_empty: '没有待分类的案件', triage_pick: '选择类别', triage_register: '确认并立案', by: '维度', by_unit: '责任单位',
  by_street: '街道', by_category: '类别', from: '从', to: '到', ch_trend: '每日案件趋势', ch_mix: '类别构成',
  ch_ontime: '按期办结率（责任单位）', league: '排行榜', rank: '排名', name: '名称', received: '受理', closed: '结案',
  on_time_rate: '按期率', closure_rate: '结案率', satisfaction_rate: '满意率', rework_rate: '返工率', score: '得分',
  small_sample: '样本少', no_scores: '无权查看考核数据', alerts_none: '暂无告警', alerts_missing: '告警服务尚未启用',
  clusters: '一类事（聚类）', hotspots: '热点区域', terms: '上升热词', level: '层级', lv_grid: '网格', lv_community: '社区',
  lv_street: '街道', cases_n: '{n} 件', growth: '增长', trend: '趋势', none: '无', new_case: '新案件 {id}',
  case_updated: '案件 {id}：{s}', action_ok: '已执行：{a}', conflict: '当前不能执行此操作，可执行：{list}',
  error: '出错了：{m}', stale: '案件已被他人更新，已重新读取，请核对后再操作', unit: '责任单位', street: '街道', community: '社区', grid: '网格', channel: '渠道',
  reported_at: '上报时间', deadline: '办理期限', reporter: '报告人', urgency: '紧急程度', overdue: '已超期',
  warned: '临期', supervised: '督办', duplicate_of: '疑似重复', rework: '返工次数', category: '类别',
  uncategorized: '未分类', reason: '理由', result: '处置结果', passed: '核查通过', satisfaction: '满意度',
  working_days: '延期工作日', approved: '同意', into: '合并到案件编号', sat_satisfied: '满意',
  sat_basically_satisfied: '基本满意', sat_dissatisfied: '不满意', unit_code: '责任单位', legend_ok: '正常',
  legend_warn: '临期', legend_over: '超期', legend_done: '已办结', legend_alert: '告警', alert_raised: '告警：{m}',
  loading: '加载中…', trend_up: '上升', trend_down: '下降', trend_flat: '持平', dispatch_unit: '派遣单位（默认按权责清单）',
  a_register: '立案', a_reject: '不予立案', a_dispatch: '派遣', a_accept: '签收', a_return: '退回', a_handle: '处置',
  a_verify: '核查', a_close: '结案', a_rate: '评价', a_reopen: '重新打开', a_extend_request: '申请延期',
  a_extend_approve: '审批延期', a_suspend: '挂起', a_resume: '恢复', a_supervise: '督办', a_escalate: '上报上级',
  a_merge: '合并', a_reassign: '改派', a_report: '上报', a_locate: '定位', a_classify: '分类',
  s_reported: '已上报', s_registered: '已立案', s_rejected: '不予立案', s_dispatched: '已派遣', s_accepted: '已签收',
  s_handled: '已处置', s_verified: '已核查', s_closed: '已结案', s_rated: '已评价', s_suspended: '已挂起',
  s_merged: '已合并', lang_other: 'English', al_active: '未解除', al_open: '待确认', al_acknowledged: '已确认', al_cleared: '已解除',
  al_acknowledge: '确认', al_clear: '解除', lv_red: '红色', lv_orange: '橙色', lv_yellow: '黄色', lv_blue: '蓝色', severity: '级别', source: '来源', at: '时间', device: '设备',
};

const en = {
  skip: 'Skip to main content', app_title: 'Luohu City Operations Centre', login_hint: 'Sign in with your work account',
  username: 'Username', password: 'Password', login: 'Sign in', logout: 'Sign out', login_failed: 'Wrong username or password',
  too_many: 'Too many attempts; try again later', nav_main: 'Main', nav_queue: 'Case queue', nav_map: 'Live map',
  nav_triage: 'Triage', nav_scores: 'Scores', nav_alerts: 'Alerts', nav_insights: 'Insights',
  live_on: 'Live', live_off: 'Offline', live_wait: 'Connecting', filters: 'Filters', f_status: 'Status', f_street: 'Street',
  f_overdue: 'Overdue', f_q: 'Search', all: 'All', yes: 'Yes', no: 'No', apply: 'Apply', bulk: 'Bulk actions',
  bulk_action: 'Bulk action', bulk_go: 'Run', bulk_selected: '{n} selected', bulk_done: 'Bulk {a}: {ok} done, {fail} failed',
  select_all: 'Select all', select_case: 'Select case {id}', c_id: 'Case', c_status: 'Status', c_category: 'Category', c_place: 'Place',
  c_desc: 'Description', c_deadline: 'Deadline', prev: 'Previous', next: 'Next', page_info: 'Page {p} of {n}, {t} cases',
  empty: 'No cases', back: 'Back to the queue', actions: 'Actions', no_actions: 'Your role has no action on this case now',
  comment: 'Comment', history: 'History', photos: 'Photos', zoom_in: 'Zoom in', zoom_out: 'Zoom out', zoom_reset: 'Whole district',
  map_label: 'Map of Luohu cases: arrow keys pan, plus and minus zoom', map_count: '{n} cases on the map',
  triage_hint: 'Cases the classifier could not place: choose a category and register them.',
  triage_empty: 'Nothing to triage', triage_pick: 'Category', triage_register: 'Confirm and register', by: 'By', by_unit: 'Unit',
  by_street: 'Street', by_category: 'Category', from: 'From', to: 'To', ch_trend: 'Cases per day', ch_mix: 'Category mix',
  ch_ontime: 'On-time rate by unit', league: 'League table', rank: 'Rank', name: 'Name', received: 'Received', closed: 'Closed',
  on_time_rate: 'On time', closure_rate: 'Closed', satisfaction_rate: 'Satisfied', rework_rate: 'Rework', score: 'Score',
  small_sample: 'small sample', no_scores: 'Your role may not see scores', alerts_none: 'No alerts', alerts_missing: 'Alerts are not available yet',
  clusters: 'Recurring problems', hotspots: 'Hot spots', terms: 'Rising terms', level: 'Level', lv_grid: 'Grid cell',
  lv_community: 'Community', lv_street: 'Street', cases_n: '{n} cases', growth: 'growth', trend: 'trend', none: 'none',
  new_case: 'New case {id}', case_updated: 'Case {id}: {s}', action_ok: 'Done: {a}', conflict: 'Not allowed now; allowed: {list}',
  error: 'Error: {m}', stale: 'Someone changed this case meanwhile; it has been read again, check and retry', unit: 'Unit', street: 'Street', community: 'Community', grid: 'Grid cell', channel: 'Channel',
  reported_at: 'Reported', deadline: 'Deadline', reporter: 'Reporter', urgency: 'Urgency', overdue: 'Overdue',
  warned: 'Due soon', supervised: 'Supervised', duplicate_of: 'Possible duplicate of', rework: 'Rework', category: 'Category',
  uncategorized: 'Uncategorized', reason: 'Reason', result: 'Result', passed: 'Verified OK', satisfaction: 'Satisfaction',
  working_days: 'Extra working days', approved: 'Approved', into: 'Merge into case', sat_satisfied: 'Satisfied',
  sat_basically_satisfied: 'Basically satisfied', sat_dissatisfied: 'Dissatisfied', unit_code: 'Unit', legend_ok: 'On track',
  legend_warn: 'Due soon', legend_over: 'Overdue', legend_done: 'Done', legend_alert: 'Alert', alert_raised: 'Alert: {m}',
  loading: 'Loading…', trend_up: 'rising', trend_down: 'falling', trend_flat: 'flat', dispatch_unit: 'Unit (default: by the responsibility list)',
  a_register: 'Register', a_reject: 'Reject', a_dispatch: 'Dispatch', a_accept: 'Accept', a_return: 'Return', a_handle: 'Handle',
  a_verify: 'Verify', a_close: 'Close', a_rate: 'Rate', a_reopen: 'Reopen', a_extend_request: 'Request extension',
  a_extend_approve: 'Decide extension', a_suspend: 'Suspend', a_resume: 'Resume', a_supervise: 'Supervise', a_escalate: 'Escalate',
  a_merge: 'Merge', a_reassign: 'Reassign', a_report: 'Report', a_locate: 'Locate', a_classify: 'Classify',
  s_reported: 'Reported', s_registered: 'Registered', s_rejected: 'Rejected', s_dispatched: 'Dispatched', s_accepted: 'Accepted',
  s_handled: 'Handled', s_verified: 'Verified', s_closed: 'Closed', s_rated: 'Rated', s_suspended: 'Suspended',
  s_merged: 'Merged', lang_other: '中文', al_active: 'Active', al_open: 'Open', al_acknowledged: 'Acknowledged', al_cleared: 'Cleared',
  al_acknowledge: 'Acknowledge', al_clear: 'Clear', lv_red: 'Red', lv_orange: 'Orange', lv_yellow: 'Yellow', lv_blue: 'Blue', severity: 'Severity', source: 'Source', at: 'Time', device: 'Device',
};

const dicts = { zh, en };
let lang = (typeof localStorage !== 'undefined' && localStorage.getItem('citydesk.lang')) || 'zh';
if (!dicts[lang]) lang = 'zh';

export function getLang() { return lang; }

export function setLang(l) {
  lang = dicts[l] ? l : 'zh';
  try { localStorage.setItem('citydesk.lang', lang); } catch (e) { /* private mode */ }
  applyStatic(document);
}

// The word for key with {name} placeholders filled from vars; the key itself when unknown.
export function t(key, vars) {
  let s = dicts[lang][key] ?? zh[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] ?? m));
  return s;
}

// A state's, action's or satisfaction's label, falling back to the wire name.
export function label(prefix, name) {
  if (!name) return '';
  const k = prefix + '_' + name;
  return dicts[lang][k] ?? zh[k] ?? name;
}

// Rewrites every data-i18n text and data-i18n-aria label under root.
export function applyStatic(root) {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('app_title') + ' · citydesk';
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
  for (const el of root.querySelectorAll('[data-lang-switch]')) {
    el.textContent = t('lang_other');
    el.setAttribute('lang', lang === 'zh' ? 'en' : 'zh-CN');
  }
}
