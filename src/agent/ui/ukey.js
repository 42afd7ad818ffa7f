// UKey 管理: the keys the assistant sees, the certificates on them, and changing the PIN.
import { api, el, errorText, formatDate, lang, pinTriesText, setLang, t, translatePage } from './common.js';

function renewalCell(c) {
  if (c.renewal.open) return el('span', { class: 'badge ok', text: t('renewalOpen') });
  if (new Date(c.renewal.opensAt) > new Date())
    return el('span', { class: 'badge', text: t('renewalNotYet', { date: formatDate(c.dates.renewalOpens) }) });
  return el('span', { class: 'badge warn', text: t('renewalClosed') });
}

function stateText(s) {
  return s === 'pending' ? t('statePending') : s === 'retired' ? t('stateRetired') : t('stateCurrent');
}

function usageText(c) {
  return c.usage === 'encryption' ? t('usageEncryption') : t('usageSigning');
}

function certTable(c, all) {
  const profile = c.profile.name
    ? lang() === 'en'
      ? c.profile.nameEn
      : c.profile.name
    : c.profile.policies.join(', ') || t('unknown');
  const partner = c.pairedWith ? all.find((x) => x.id === c.pairedWith) : undefined;
  const rows = [
    [t('usage'), el('span', { class: `badge usage-${c.usage}`, text: usageText(c) })],
    [t('name'), c.name],
    [t('profile'), profile],
    [t('uniqueId'), c.uniqueId ?? '—'],
    [t('issuer'), c.issuerName],
    [t('serial'), c.serial],
    [t('validity'), `${formatDate(c.dates.notBefore)} — ${formatDate(c.dates.notAfter)}`],
    [t('daysLeft'), c.expired ? el('span', { class: 'badge warn', text: t('expired') }) : t('days', { n: c.daysLeft })],
    [t('renewal'), renewalCell(c)],
    [t('state'), stateText(c.state)],
    ...(partner ? [[t('pairedWith'), partner.serial]] : []),
  ];
  return el(
    'table',
    { class: 'cert', 'data-serial': c.serial, 'data-usage': c.usage },
    ...rows.map(([k, v]) => el('tr', {}, el('th', { text: k }), el('td', {}, v))),
  );
}

/** A seal on the key: its picture, name, validity and the certificate it goes with. */
function sealTable(s) {
  const rows = [
    [t('sealName'), s.name],
    ['esID', s.esId],
    [t('validity'), `${formatDate(s.validStart)} — ${formatDate(s.validEnd)}`],
    [t('sealCertificate'), s.certificate ? s.certificate.serial : '—'],
    [
      t('state'),
      s.valid ? stateText(s.state) : el('span', { class: 'badge warn', text: t('sealInvalid', { check: s.failedCheck }) }),
    ],
  ];
  return el(
    'table',
    { class: 'cert seal', 'data-esid': s.esId },
    el(
      'tr',
      {},
      el('td', { colspan: 2 }, el('img', { class: 'seal-picture', alt: s.name, src: `data:image/png;base64,${s.picture.data}` })),
    ),
    ...rows.map(([k, v]) => el('tr', {}, el('th', { text: k }), el('td', {}, v))),
  );
}

function pinForm(token) {
  const msg = el('div', { class: 'message', hidden: true });
  const oldPin = el('input', { type: 'password', autocomplete: 'off', required: true });
  const newPin1 = el('input', { type: 'password', autocomplete: 'new-password', required: true });
  const newPin2 = el('input', { type: 'password', autocomplete: 'new-password', required: true });
  const submit = el('button', { type: 'submit', text: t('submit') });
  const form = el(
    'form',
    { autocomplete: 'off' },
    el('label', {}, el('span', { text: t('oldPin') }), ' ', oldPin),
    el('label', {}, el('span', { text: t('newPin') }), ' ', newPin1),
    el('label', {}, el('span', { text: t('confirmPin') }), ' ', newPin2),
    el('div', { class: 'actions' }, submit),
    msg,
  );
  const show = (kind, text) => {
    msg.className = `message ${kind}`;
    msg.textContent = text;
    msg.hidden = false;
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (newPin1.value !== newPin2.value) return show('error', t('pinMismatch'));
    const body = JSON.stringify({ oldPin: oldPin.value, newPin: newPin1.value });
    oldPin.value = newPin1.value = newPin2.value = '';
    submit.disabled = true;
    const r = await api(`/ui/api/tokens/${encodeURIComponent(token.id)}/change-pin`, { method: 'POST', body });
    submit.disabled = false;
    if (r.ok) show('ok', t('pinChanged'));
    else show('error', errorText(r.body));
  });
  return el('details', {}, el('summary', { text: t('changePin') }), form);
}

async function render() {
  const box = document.getElementById('keys');
  const r = await api('/v1/tokens');
  box.replaceChildren();
  const tokens = r.ok ? r.body.tokens : [];
  if (tokens.length === 0) {
    box.append(el('p', { class: 'message info', text: r.ok ? t('noKeys') : errorText(r.body) }));
    return;
  }
  for (const token of tokens) {
    const card = el(
      'section',
      { class: 'card', 'data-token': token.id },
      el('h2', { text: `${token.label}` }),
      el(
        'p',
        { class: 'muted' },
        `${token.kind === 'soft' ? t('keyKindSoft') : t('keyKindPkcs11')} · ${t('keySerial')} ${token.serial} · ${t('pinTries')}: ${pinTriesText(token.pin)}`,
      ),
    );
    const certs = await api(`/v1/tokens/${encodeURIComponent(token.id)}/certificates`);
    if (!certs.ok) card.append(el('p', { class: 'message error', text: errorText(certs.body) }));
    else if (certs.body.certificates.length === 0) card.append(el('p', { class: 'muted', text: t('noCerts') }));
    else for (const c of certs.body.certificates) card.append(certTable(c, certs.body.certificates));
    const seals = await api(`/v1/tokens/${encodeURIComponent(token.id)}/seals`);
    if (seals.ok && seals.body.seals.length > 0) {
      card.append(el('h3', { text: t('seals') }));
      for (const s of seals.body.seals) card.append(sealTable(s));
    }
    if (!token.pin.locked) card.append(pinForm(token));
    box.append(card);
  }
}

function start() {
  setLang(lang());
  translatePage();
  document.getElementById('lang').addEventListener('click', () => {
    setLang(lang() === 'en' ? 'zh' : 'en');
    translatePage();
    void render();
  });
  void render();
  const events = new EventSource('/v1/events');
  for (const type of ['token-inserted', 'token-removed', 'token-changed']) events.addEventListener(type, () => void render());
}

start();
