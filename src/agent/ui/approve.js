// The approval window: shows which site asks for what, on which key and certificate, takes the PIN,
// and tells the opener (the portal) only the outcome, by postMessage to the requesting origin.
import { api, el, errorText, formatDate, formatTime, lang, pinTriesText, setLang, t, translatePage } from './common.js';

const params = new URLSearchParams(window.location.search);
const requestId = params.get('request') ?? '';
const key = params.get('key') ?? '';
let info = null;
/** an approval is being sent */
let busy = false;

function message(kind, text) {
  const m = document.getElementById('message');
  m.className = `message ${kind}`;
  m.textContent = text;
  m.hidden = false;
}

/** Tells the portal what happened. Only to the origin that asked, never '*'. */
function notifyOpener(status) {
  if (!info || !window.opener) return;
  try {
    window.opener.postMessage({ type: 'certdesk-agent', requestId, status }, info.origin);
  } catch {
    // the opener navigated away: nothing to tell
  }
}

function render() {
  translatePage();
  if (!info) return;
  document.getElementById('request').hidden = false;
  document.getElementById('origin').textContent = info.origin;
  document.getElementById('op').textContent = t(`op.${info.op}`);
  const tok = info.token;
  document.getElementById('token').textContent = tok.label
    ? `${tok.label}（${t('keySerial')} ${tok.serial}）`
    : t('err.token_not_present');
  document.getElementById('tries').textContent = tok.pin ? pinTriesText(tok.pin) : '—';
  const cert = info.display.certificate;
  document.getElementById('cert-row').hidden = !cert;
  if (cert) {
    const profile = cert.profile?.name ? (lang() === 'en' ? cert.profile.nameEn : cert.profile.name) : '';
    const cell = document.getElementById('cert');
    cell.replaceChildren(
      el('div', { text: `${t('name')}: ${cert.name}` }),
      profile ? el('div', { text: `${t('profile')}: ${profile}` }) : null,
      cert.uniqueId ? el('div', { text: `${t('uniqueId')}: ${cert.uniqueId}` }) : null,
      el('div', { text: `${t('serial')}: ${cert.serial}` }),
      el('div', { text: `${t('validUntil')}: ${formatDate(cert.dates.notAfter)}` }),
    );
  }
  // the seal's picture as the CA made it: the holder sees what will be stamped
  const seal = info.display.seal;
  document.getElementById('seal-row').hidden = !seal;
  if (seal) {
    document.getElementById('seal').replaceChildren(
      el('img', {
        class: 'seal-picture',
        alt: seal.name,
        src: `data:image/${seal.picture.type === 'png' ? 'png' : 'octet-stream'};base64,${seal.picture.data}`,
      }),
      el('div', { text: `${t('sealName')}: ${seal.name}` }),
      el('div', { text: `esID: ${seal.esId}` }),
      el('div', { text: `${t('validUntil')}: ${formatDate(seal.validEnd)}` }),
    );
  }
  document.getElementById('document-row').hidden = !info.display.documentName;
  if (info.display.documentName) {
    document
      .getElementById('document')
      .replaceChildren(
        el('div', { text: info.display.documentName }),
        el('div', { class: 'muted', text: `SM3: ${info.display.digest}` }),
      );
  }
  document.getElementById('reason-row').hidden = !info.display.revocationReason;
  if (info.display.revocationReason) document.getElementById('reason').textContent = t(`reason.${info.display.revocationReason}`);
  document.getElementById('order-row').hidden = !info.display.orderId;
  if (info.display.orderId) document.getElementById('order').textContent = info.display.orderId;
  document.getElementById('new-pin').hidden = !info.needsNewPin;
  document.getElementById('expires').textContent = t('expiresAt', { time: formatTime(info.expiresAt) });
  const form = document.getElementById('pin-form');
  if (info.status === 'working') {
    form.hidden = true;
    message('info', t('status.working'));
  } else if (info.status !== 'pending') {
    form.hidden = true;
    message(info.status === 'done' ? 'ok' : 'info', t('notPending', { status: t(`status.${info.status}`) }));
  } else if (info.refusal) {
    form.hidden = true;
    message('error', errorText(info.refusal));
  } else form.hidden = false;
}

async function load() {
  const r = await api(`/ui/api/requests/${encodeURIComponent(requestId)}?key=${encodeURIComponent(key)}`);
  if (!r.ok) {
    document.getElementById('request').hidden = true;
    message('error', errorText(r.body));
    return;
  }
  info = r.body;
  render();
}

async function approve(ev) {
  ev.preventDefault();
  const pinInput = document.getElementById('pin');
  const body = { key, pin: pinInput.value };
  if (info.needsNewPin) {
    const a = document.getElementById('new-pin-1');
    const b = document.getElementById('new-pin-2');
    if (a.value !== b.value) return message('error', t('pinMismatch'));
    body.newPin = a.value;
    a.value = b.value = '';
  }
  // The PIN leaves the page in this one request and is not kept anywhere.
  pinInput.value = '';
  const button = document.getElementById('approve');
  button.disabled = true;
  busy = true;
  let r;
  try {
    r = await api(`/ui/api/requests/${encodeURIComponent(requestId)}/approve`, { method: 'POST', body: JSON.stringify(body) });
  } finally {
    busy = false;
    button.disabled = false;
  }
  if (r.ok) {
    await load();
    message('ok', t('done'));
    notifyOpener('done');
    setTimeout(() => window.close(), 1500);
    return;
  }
  if (r.body?.requestStatus === 'failed') {
    document.getElementById('pin-form').hidden = true;
    message('error', `${t('failed')}${errorText(r.body)}`);
    notifyOpener('failed');
    return;
  }
  message('error', errorText(r.body));
  await load();
  if (r.body?.error === 'pin_incorrect') message('error', errorText(r.body));
}

async function deny() {
  const r = await api(`/ui/api/requests/${encodeURIComponent(requestId)}/deny`, {
    method: 'POST',
    body: JSON.stringify({ key }),
  });
  document.getElementById('pin-form').hidden = true;
  if (r.ok) {
    message('info', t('denied'));
    notifyOpener('denied');
    setTimeout(() => window.close(), 1000);
  } else message('error', errorText(r.body));
}

setLang(lang());
document.getElementById('lang').addEventListener('click', () => {
  setLang(lang() === 'en' ? 'zh' : 'en');
  render();
});
document.getElementById('pin-form').addEventListener('submit', (ev) => void approve(ev));
document.getElementById('deny').addEventListener('click', () => void deny());
translatePage();
void load();

// A key inserted or removed while the window is open: show the new state (e.g. the PIN field appears).
// Ignored while an approval is being sent: its own answer updates the window.
const events = new EventSource('/v1/events');
for (const type of ['token-inserted', 'token-removed', 'token-changed']) {
  events.addEventListener(type, async () => {
    if (!info || info.status !== 'pending' || busy) return;
    const r = await api(`/ui/api/requests/${encodeURIComponent(requestId)}?key=${encodeURIComponent(key)}`);
    if (!r.ok || busy) return;
    const changed = JSON.stringify(r.body.refusal) !== JSON.stringify(info.refusal);
    info = r.body;
    if (!changed) {
      document.getElementById('tries').textContent = info.token.pin ? pinTriesText(info.token.pin) : '—';
      return;
    }
    render();
    if (!info.refusal) document.getElementById('message').hidden = true;
  });
}
