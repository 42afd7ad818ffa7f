// Shared by the key assistant's pages: language (zh-CN by default, English on request), text
// lookup, small DOM helpers. No inline event handlers anywhere: the pages' CSP forbids them.

const STRINGS = {
  zh: {
    appTitle: '协卡助手',
    ukeyTitle: 'UKey 管理',
    approveTitle: '协卡助手 — 操作确认',
    switchLang: 'English',
    loading: '正在读取…',
    noKeys: '未检测到 UKey。请插入 UKey（或检查软证书文件）。',
    keyKindPkcs11: '硬件 UKey（PKCS#11）',
    keyKindSoft: '软证书',
    keySerial: '序列号',
    pinTries: 'PIN 剩余次数',
    pinTriesUnknown: '设备不报告',
    pinTriesLow: '（已有错误输入）',
    pinLocked: '已锁定',
    noCerts: '此 UKey 中没有证书。',
    name: '名称',
    profile: '证书种类',
    uniqueId: '唯一识别号',
    issuer: '颁发者',
    serial: '证书序列号',
    validity: '有效期',
    validUntil: '有效期至',
    daysLeft: '剩余天数',
    renewal: '证书更新',
    renewalOpen: '可更新',
    renewalNotYet: '暂不可更新（{date} 起可更新）',
    renewalClosed: '已超出可更新期限，请到服务网点办理',
    expired: '已过期',
    days: '{n} 天',
    state: '状态',
    stateCurrent: '正在使用',
    statePending: '更新中（新证书）',
    stateRetired: '已停用（旧证书）',
    usage: '证书用途',
    usageSigning: '签名证书',
    usageEncryption: '加密证书',
    pairedWith: '对应加密证书',
    unknown: '未知',
    changePin: '修改 PIN',
    oldPin: '原 PIN',
    newPin: '新 PIN',
    confirmPin: '确认新 PIN',
    submit: '确定',
    cancel: '取消',
    pinMismatch: '两次输入的新 PIN 不一致。',
    pinChanged: 'PIN 已修改。',
    renewalWindowNote: '证书可更新范围是证书到期前后三个月内。',
    requestFrom: '请求来源网站',
    operation: '请求的操作',
    key: 'UKey',
    certificate: '证书',
    orderId: '订单号',
    enterPin: '请输入 UKey PIN',
    approve: '确认',
    deny: '拒绝',
    pinOnlyHere: '请只在本窗口中输入 PIN。本窗口属于您电脑上的协卡助手，网站无法看到您输入的 PIN。',
    checkOrigin: '请核对请求来源网站是否为您正在使用的证书服务网站。',
    done: '操作已完成，可以关闭此窗口。',
    denied: '已拒绝此请求。',
    failed: '操作失败：',
    expiresAt: '请在 {time} 前确认',
    notPending: '此请求已结束（{status}）。',
    'err.pin_incorrect': 'PIN 错误。',
    'err.pin_incorrect_n': 'PIN 错误，还剩 {n} 次尝试机会。',
    'err.pin_locked': 'PIN 已被锁定，无法继续使用。',
    'err.pin_final_try': '此 UKey 的 PIN 只剩最后一次尝试机会。为避免输错导致锁定，协卡助手不在网页操作中接受 PIN。',
    'err.unlock_help':
      '解锁方法：请携带 UKey 前往证书服务网点，由工作人员使用管理员 PIN（SO PIN）解锁或重置 PIN；软证书可使用命令 certdesk token unlock-soft 及管理员 PIN 解锁。',
    'err.pin_rate_limited': '尝试过于频繁，请稍候再试。',
    'err.pin_invalid': 'PIN 格式不正确。',
    'err.token_not_present': '未检测到此请求对应的 UKey，请插入后重试。',
    'err.token_removed': 'UKey 在操作过程中被拔出。未写入任何不完整的数据；请重新插入 UKey 后再试，更新会从中断处继续。',
    'err.request_not_found': '请求不存在或已过期，请回到网站重新操作。',
    'err.certificate_no_matching_key': '证书与 UKey 中的任何密钥都不匹配，未写入。',
    'err.certificate_key_mismatch': '证书与本次更新生成的密钥不匹配，未写入。',
    'err.challenge_origin_mismatch': '登录请求不属于请求来源网站，已拒绝签名。',
    'err.challenge_expired': '登录请求已过期，请回到网站重新登录。',
    'err.generic': '出现错误：',
    'op.login': '登录',
    'op.renew': '更新证书',
    'op.change-pin': '修改 PIN',
    'op.generate-key': '生成密钥对',
    'op.make-csr': '生成证书请求',
    'op.write-certificate': '写入证书',
    'op.sign-revocation': '撤销证书',
    'op.delete-revoked': '删除已撤销证书',
    'op.write-seal': '写入印章',
    'op.sign-with-seal': '电子签章',
    seal: '印章',
    seals: '电子印章',
    sealCertificate: '绑定证书序列号',
    sealInvalid: '无效（{check}）',
    sealName: '印章名称',
    document: '文档',
    revocationReason: '撤销原因',
    'reason.keyCompromise': '密钥泄露',
    'reason.cessationOfOperation': '停止使用',
    'reason.affiliationChanged': '隶属关系变更',
    'reason.superseded': '证书被替代',
    'status.pending': '等待确认',
    'status.working': '处理中',
    'status.done': '已完成',
    'status.failed': '失败',
    'status.denied': '已拒绝',
    'status.expired': '已过期',
  },
  en: {
    appTitle: 'Key assistant',
    ukeyTitle: 'Key management (UKey 管理)',
    approveTitle: 'Key assistant — confirm',
    switchLang: '中文',
    loading: 'Reading…',
    noKeys: 'No key found. Insert your key (or check the soft token file).',
    keyKindPkcs11: 'Hardware key (PKCS#11)',
    keyKindSoft: 'Soft token',
    keySerial: 'Serial',
    pinTries: 'PIN tries left',
    pinTriesUnknown: 'not reported by the key',
    pinTriesLow: '(wrong PINs were entered)',
    pinLocked: 'locked',
    noCerts: 'There is no certificate on this key.',
    name: 'Name',
    profile: 'Certificate type',
    uniqueId: 'Unique ID',
    issuer: 'Issuer',
    serial: 'Serial number',
    validity: 'Valid',
    validUntil: 'Valid until',
    daysLeft: 'Days left',
    renewal: 'Renewal',
    renewalOpen: 'open',
    renewalNotYet: 'not yet (opens {date})',
    renewalClosed: 'closed: visit a service point',
    expired: 'expired',
    days: '{n} days',
    state: 'State',
    stateCurrent: 'in use',
    statePending: 'renewal in progress (new)',
    stateRetired: 'retired (old)',
    usage: 'Usage',
    usageSigning: 'Signing certificate',
    usageEncryption: 'Encryption certificate',
    pairedWith: 'Its encryption certificate',
    unknown: 'unknown',
    changePin: 'Change PIN',
    oldPin: 'Current PIN',
    newPin: 'New PIN',
    confirmPin: 'Repeat new PIN',
    submit: 'OK',
    cancel: 'Cancel',
    pinMismatch: 'The two new PINs differ.',
    pinChanged: 'The PIN was changed.',
    renewalWindowNote: 'A certificate can be renewed from three months before to three months after it expires.',
    requestFrom: 'Requested by',
    operation: 'Operation',
    key: 'Key',
    certificate: 'Certificate',
    orderId: 'Order',
    enterPin: 'Key PIN',
    approve: 'Approve',
    deny: 'Decline',
    pinOnlyHere:
      'Type your PIN only in this window. It belongs to the key assistant on your computer; the website never sees your PIN.',
    checkOrigin: 'Check that the requesting site is the certificate service you are using.',
    done: 'Done. You can close this window.',
    denied: 'You declined this request.',
    failed: 'The operation failed: ',
    expiresAt: 'Approve before {time}',
    notPending: 'This request has ended ({status}).',
    'err.pin_incorrect': 'Wrong PIN.',
    'err.pin_incorrect_n': 'Wrong PIN: {n} tries left.',
    'err.pin_locked': 'The PIN is locked.',
    'err.pin_final_try':
      'This key has one PIN try left. So that a typing mistake cannot lock it, the assistant does not take the PIN for web requests.',
    'err.unlock_help':
      'To unlock it, take the key to a service point of the CA, where the security officer PIN (SO PIN) unlocks or resets the PIN; a soft token is unlocked with `certdesk token unlock-soft` and its SO PIN.',
    'err.pin_rate_limited': 'Too many tries in a row; wait a moment.',
    'err.pin_invalid': 'The PIN is not in a valid format.',
    'err.token_not_present': 'The key for this request is not inserted. Insert it and try again.',
    'err.token_removed':
      'The key was removed during the operation. Nothing half-written was left; insert it again and retry: the renewal resumes where it stopped.',
    'err.request_not_found': 'No such request (it may have expired). Start again from the website.',
    'err.certificate_no_matching_key': 'The certificate matches no key on this key; nothing was written.',
    'err.certificate_key_mismatch': 'The certificate does not match the key made for this renewal; nothing was written.',
    'err.challenge_origin_mismatch': 'The login request is not for the requesting site; not signed.',
    'err.challenge_expired': 'The login request has expired; log in again on the website.',
    'err.generic': 'Error: ',
    'op.login': 'Log in',
    'op.renew': 'Renew certificate',
    'op.change-pin': 'Change PIN',
    'op.generate-key': 'Generate a key pair',
    'op.make-csr': 'Create a certificate request',
    'op.write-certificate': 'Write a certificate',
    'op.sign-revocation': 'Revoke certificate',
    'op.delete-revoked': 'Delete the revoked certificate',
    'op.write-seal': 'Write a seal',
    'op.sign-with-seal': 'Stamp a document',
    seal: 'Seal',
    seals: 'Electronic seals',
    sealCertificate: 'Bound certificate serial',
    sealInvalid: 'invalid ({check})',
    sealName: 'Seal name',
    document: 'Document',
    revocationReason: 'Reason for revocation',
    'reason.keyCompromise': 'Key compromise',
    'reason.cessationOfOperation': 'Cessation of operation',
    'reason.affiliationChanged': 'Affiliation changed',
    'reason.superseded': 'Superseded',
    'status.pending': 'waiting',
    'status.working': 'working',
    'status.done': 'done',
    'status.failed': 'failed',
    'status.denied': 'declined',
    'status.expired': 'expired',
  },
};

export function lang() {
  const q = new URLSearchParams(window.location.search).get('lang');
  if (q === 'en' || q === 'zh') return q;
  const saved = localStorage.getItem('certdesk-agent-lang');
  return saved === 'en' ? 'en' : 'zh';
}

export function setLang(l) {
  localStorage.setItem('certdesk-agent-lang', l);
  document.documentElement.lang = l === 'en' ? 'en' : 'zh-CN';
}

export function t(key, vars) {
  const table = STRINGS[lang()];
  let s = table[key] ?? STRINGS.zh[key] ?? key;
  for (const [k, v] of Object.entries(vars ?? {})) s = s.replace(`{${k}}`, String(v));
  return s;
}

/** Creates an element; text is always set as text, never parsed as HTML. */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = String(v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

/** Applies the language to elements marked data-t="key". */
export function translatePage() {
  document.documentElement.lang = lang() === 'en' ? 'en' : 'zh-CN';
  for (const e of document.querySelectorAll('[data-t]')) e.textContent = t(e.getAttribute('data-t'));
}

/** A calendar day the assistant computed (YYYY-MM-DD in Asia/Shanghai, the `dates` of a certificate). */
export function formatDate(day) {
  const [y, m, d] = String(day).split('-');
  return lang() === 'en' ? day : `${y}年${m}月${d}日`;
}

export function formatTime(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString(lang() === 'en' ? 'en-GB' : 'zh-CN');
}

/** A message for an API error: the localized text for its code, else the server's message. */
export function errorText(body) {
  if (!body || typeof body !== 'object') return t('err.generic');
  const code = body.error;
  if (code === 'pin_incorrect') {
    return typeof body.retriesLeft === 'number' ? t('err.pin_incorrect_n', { n: body.retriesLeft }) : t('err.pin_incorrect');
  }
  if (code === 'pin_locked' || code === 'pin_final_try') return `${t('err.' + code)} ${t('err.unlock_help')}`;
  const key = `err.${code}`;
  const s = t(key);
  return s === key ? `${t('err.generic')}${body.message ?? code}` : s;
}

export async function api(path, init) {
  const res = await fetch(path, {
    ...init,
    headers: { 'Content-Type': 'application/json', ...(init?.headers ?? {}) },
  });
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  return { ok: res.ok, status: res.status, body };
}

export function pinTriesText(pin) {
  if (pin.locked) return t('pinLocked');
  if (typeof pin.retriesLeft === 'number') return String(pin.retriesLeft);
  return `${t('pinTriesUnknown')}${pin.countLow ? ' ' + t('pinTriesLow') : ''}`;
}
