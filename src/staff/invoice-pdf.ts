// The electronic receipt/invoice (电子收据/发票) as a PDF: the CA's name, the holder, the items, the
// amount in 元 with 2 decimals and in capital numerals (大写). Chinese text is set in Noto Sans SC,
// embedded as a subset: the bundled npm font (@embedpdf/fonts-sc), INVOICE_FONT when set, or the
// system's Noto CJK collection as a fallback.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import PDFDocument from 'pdfkit';
import { fenToChineseCapital, fenToYuan } from '../ra/money.js';
import { chinaDate } from '../shared/china-date.js';
import type { InvoiceItem, InvoiceSummary } from '../sa/invoices.js';

interface FontSource {
  file: string;
  /** the face inside a TrueType/OpenType collection (.ttc) */
  family?: string;
}

const SYSTEM_CJK = '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc';

function bundledFont(weight: 'Regular' | 'Bold'): string | undefined {
  try {
    const main = createRequire(import.meta.url).resolve('@embedpdf/fonts-sc');
    const file = path.join(path.dirname(main), '..', 'fonts', `NotoSansHans-${weight}.otf`);
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

export function invoiceFonts(configured?: string): { regular: FontSource; bold: FontSource } {
  if (configured) {
    if (!existsSync(configured)) throw new Error(`INVOICE_FONT ${configured} does not exist`);
    const f = { file: configured, ...(configured.endsWith('.ttc') ? { family: 'NotoSansCJKsc-Regular' } : {}) };
    return { regular: f, bold: f };
  }
  const regular = bundledFont('Regular');
  if (regular) return { regular: { file: regular }, bold: { file: bundledFont('Bold') ?? regular } };
  if (existsSync(SYSTEM_CJK)) {
    const bold = SYSTEM_CJK.replace('Regular', 'Bold');
    return {
      regular: { file: SYSTEM_CJK, family: 'NotoSansCJKsc-Regular' },
      bold: existsSync(bold)
        ? { file: bold, family: 'NotoSansCJKsc-Bold' }
        : { file: SYSTEM_CJK, family: 'NotoSansCJKsc-Regular' },
    };
  }
  throw new Error('no CJK font for invoices: reinstall the npm dependencies (@embedpdf/fonts-sc) or set INVOICE_FONT');
}

const fontCache = new Map<string, Buffer>();
const fontBytes = (file: string): Buffer => {
  let b = fontCache.get(file);
  if (!b) {
    b = readFileSync(file);
    fontCache.set(file, b);
  }
  return b;
};

export const CHANNEL_NAMES: Record<string, string> = {
  postal: '邮政汇款',
  bank: '银行转帐',
  sandbox: '网银支付',
  online: '网银支付',
};

export interface InvoicePdfInput {
  invoice: InvoiceSummary;
  orderId: string;
  reference: string;
  issuerAddress?: string;
  issuerPhone?: string;
  font?: string;
}

/** Renders the invoice; deterministic for the same record (the creation date is the payment date). */
export function renderInvoicePdf(input: InvoicePdfInput): Promise<Buffer> {
  const { invoice: inv } = input;
  const fonts = invoiceFonts(input.font);
  const items = JSON.parse(inv.items) as InvoiceItem[];
  const doc = new PDFDocument({
    size: 'A4',
    margin: 50,
    compress: true,
    info: {
      Title: `电子收据 ${inv.number}`,
      Author: inv.issuer_name,
      Subject: `Order ${input.orderId}`,
      Creator: 'certdesk',
      Producer: 'certdesk',
      CreationDate: new Date(inv.paid_at),
      ModDate: new Date(inv.paid_at),
    },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  doc.registerFont('cjk', fontBytes(fonts.regular.file), fonts.regular.family as string);
  doc.registerFont('cjk-bold', fontBytes(fonts.bold.file), fonts.bold.family as string);

  const left = 50;
  const right = doc.page.width - 50;
  const width = right - left;
  const red = '#b22222';

  doc.font('cjk-bold').fontSize(20).fillColor(red).text('电子收据（发票）', left, 50, { width, align: 'center' });
  doc.font('cjk').fontSize(9).fillColor('#555').text('Electronic receipt / invoice', { width, align: 'center' });
  doc.moveDown(0.8);

  doc.fillColor('#000').fontSize(10.5);
  const row = (label: string, value: string, x: number, y: number, w: number): void => {
    doc.font('cjk').fillColor('#555').text(label, x, y, { width: 90 });
    doc
      .font('cjk')
      .fillColor('#000')
      .text(value, x + 90, y, { width: w - 90 });
  };
  let y = doc.y + 4;
  row('收据号码 No.', inv.number, left, y, width / 2);
  row('开具日期 Date', chinaDate(inv.paid_at), left + width / 2, y, width / 2);
  y += 20;
  row('订单号 Order', input.orderId, left, y, width / 2);
  row('参考号 Ref.', input.reference, left + width / 2, y, width / 2);
  y += 28;

  // parties
  const box = (title: string, lines: string[], x: number, w: number): void => {
    doc.rect(x, y, w, 74).strokeColor(red).lineWidth(0.8).stroke();
    doc
      .font('cjk-bold')
      .fontSize(10.5)
      .fillColor(red)
      .text(title, x + 8, y + 6, { width: w - 16 });
    doc.font('cjk').fontSize(10).fillColor('#000');
    lines.forEach((l, i) => doc.text(l, x + 8, y + 24 + i * 15, { width: w - 16, lineBreak: false, ellipsis: true }));
  };
  box('付款方 Payer', [`名称：${inv.buyer_name}`, `唯一识别号：${inv.buyer_unique_id ?? '—'}`], left, width / 2 - 6);
  box(
    '收款方 Payee',
    [
      `名称：${inv.issuer_name}`,
      ...(inv.issuer_tax_id ? [`纳税人识别号：${inv.issuer_tax_id}`] : []),
      ...(input.issuerAddress ? [input.issuerAddress] : []),
    ].slice(0, 3),
    left + width / 2 + 6,
    width / 2 - 6,
  );
  y += 90;

  // items
  const cols = [left, left + width * 0.6, left + width * 0.72, right];
  const head = ['项目 Item', '数量 Qty', '金额（元） Amount (CNY)'];
  doc.rect(left, y, width, 22).fillColor('#f6e7e7').fill();
  doc.fillColor('#000').font('cjk-bold').fontSize(10);
  head.forEach((h, i) =>
    doc.text(h, cols[i]! + 6, y + 6, { width: cols[i + 1]! - cols[i]! - 12, align: i === 0 ? 'left' : 'right' }),
  );
  y += 22;
  doc.font('cjk').fontSize(10.5);
  for (const it of items) {
    doc.text(it.name, cols[0]! + 6, y + 7, { width: cols[1]! - cols[0]! - 12 });
    doc.text(String(it.quantity), cols[1]! + 6, y + 7, { width: cols[2]! - cols[1]! - 12, align: 'right' });
    doc.text(fenToYuan(it.amountFen), cols[2]! + 6, y + 7, { width: cols[3]! - cols[2]! - 12, align: 'right' });
    y += 26;
    doc.moveTo(left, y).lineTo(right, y).strokeColor('#ddd').lineWidth(0.5).stroke();
  }
  y += 10;
  doc.font('cjk').fontSize(10.5).fillColor('#555').text('合计（小写） Total', left, y, { width: 150 });
  doc
    .font('cjk-bold')
    .fontSize(12)
    .fillColor('#000')
    .text(`¥${fenToYuan(inv.amount_fen)}`, left + 150, y - 1, { width: width - 150, align: 'right' });
  y += 22;
  doc.font('cjk').fontSize(10.5).fillColor('#555').text('合计（大写） In words', left, y, { width: 150 });
  doc
    .font('cjk-bold')
    .fontSize(12)
    .fillColor('#000')
    .text(fenToChineseCapital(inv.amount_fen), left + 150, y - 1, { width: width - 150, align: 'right' });
  y += 24;
  doc.moveTo(left, y).lineTo(right, y).strokeColor(red).lineWidth(0.8).stroke();
  y += 12;

  doc.font('cjk').fontSize(10).fillColor('#000');
  doc.text(
    `支付方式 Payment：${CHANNEL_NAMES[inv.payment_channel] ?? inv.payment_channel}    交易号 Transaction：${inv.payment_trade_no}`,
    left,
    y,
    { width },
  );
  y += 18;
  doc.text(
    `付款时间 Paid at：${new Date(inv.paid_at + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ')}（北京时间）`,
    left,
    y,
    { width },
  );
  y += 30;
  doc
    .fontSize(8.5)
    .fillColor('#666')
    .text(
      `本收据由 ${inv.issuer_name} 的证书自助服务系统在收款时生成，金额以人民币元计。` +
        (inv.paper_status === 'not_required' ? '' : '纸质定额发票另行邮寄至订单的发票邮寄地址。') +
        (input.issuerPhone ? ` 客服电话 ${input.issuerPhone}。` : ''),
      left,
      y,
      { width },
    );
  if (inv.status === 'void') {
    doc.save();
    doc.rotate(-25, { origin: [doc.page.width / 2, 330] });
    doc
      .font('cjk-bold')
      .fontSize(64)
      .fillColor(red)
      .opacity(0.35)
      .text('已作废 VOID', 0, 300, { width: doc.page.width, align: 'center' });
    doc.restore();
  }
  doc.end();
  return done;
}
