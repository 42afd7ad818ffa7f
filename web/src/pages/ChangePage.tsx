// 变更证书: the details the certificate says now and the new values, the reason, the supporting
// documents (营业执照 / 变更通知书), the contact (and payment when the catalogue charges) → a change
// request, followed on its own page (#/changes/:id); below, the holder's change requests.
import { useCallback, useEffect, useState } from 'react';
import { Alert, Button, Card, Form, Input, Spin, Table, Tag, Typography, Upload, type UploadFile } from 'antd';
import { ApiError, api, type ChangeField, type ChangeRequestView, type ChangeTermsView, type PaymentMethod } from '../api';
import { errorText } from '../errors';
import { fmtDate, fmtTime, money } from '../format';
import { useI18n, type MessageKey, type Translate } from '../i18n';
import { navigate } from '../router';
import OrderContactFields from '../components/OrderContactFields';
import { readUpload } from '../uploads';
import { orderKindText } from './OrderPage';

type ChangeFormValues = Partial<Record<ChangeField, string>> & {
  reason: string;
  recipient: string;
  phone: string;
  address?: string;
  postcode?: string;
  paymentMethod?: PaymentMethod;
};

export const REVIEW_COLOR: Record<ChangeRequestView['reviewState'], string> = {
  pending: 'gold',
  approved: 'green',
  rejected: 'red',
};

export const fieldLabel = (t: Translate, f: ChangeField): string => t(`changeField.${f}` as MessageKey);

const MAX_BYTES = 5 * 1024 * 1024;

export default function ChangePage() {
  const { t, lang } = useI18n();
  const [form] = Form.useForm<ChangeFormValues>();
  const [terms, setTerms] = useState<ChangeTermsView | null>(null);
  const [mine, setMine] = useState<ChangeRequestView[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [files, setFiles] = useState<UploadFile[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      const [tm, list] = await Promise.all([api.changeTerms(), api.changes()]);
      setTerms(tm);
      setMine(list.changes);
      setLoadError(null);
    } catch (e) {
      setLoadError(errorText(t, e));
    }
  }, [t]);
  useEffect(() => {
    void load();
  }, [load]);

  const formFields = ['reason', 'recipient', 'phone', 'address', 'postcode', 'paymentMethod', ...(terms?.fields ?? [])];
  const fail = (e: unknown) => {
    if (e instanceof ApiError && e.field && formFields.includes(e.field))
      form.setFields([{ name: e.field as keyof ChangeFormValues, errors: [e.message] }]);
    else if (e instanceof ApiError && e.field?.startsWith('documents'))
      setError(t('changeDocumentInvalid', { message: e.message }));
    else setError(errorText(t, e));
  };

  const submit = async (v: ChangeFormValues): Promise<void> => {
    if (!terms) return;
    setError(null);
    const changed = terms.fields.filter((f) => v[f]?.trim() && v[f]!.trim() !== (terms.current[f] ?? ''));
    if (changed.length === 0) return setError(t('changeNothing'));
    if (files.length === 0) return setError(t('changeDocumentsRequired'));
    const big = files.find((f) => (f.size ?? 0) > MAX_BYTES);
    if (big) return setError(t('changeDocumentTooLarge', { name: big.name }));
    setBusy(true);
    try {
      const documents = await Promise.all(files.map((f) => readUpload(f.originFileObj as File)));
      const { reason, recipient, phone, address, postcode, paymentMethod } = v;
      const r = await api.submitChange({
        ...Object.fromEntries(changed.map((f) => [f, v[f]!.trim()])),
        reason,
        recipient,
        phone,
        ...(terms.priceFen > 0 ? { address, postcode, paymentMethod } : {}),
        documents,
      });
      navigate(`/changes/${r.change.orderId}`);
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
    }
  };

  if (loadError) return <Alert type="error" showIcon title={loadError} />;
  if (!terms || !mine) return <Spin className="cd-spin" />;
  const open = terms.openOrder;
  const charged = terms.priceFen > 0;

  return (
    <div className="cd-page">
      <Card title={<h1 className="cd-card-title">{t('menuChange')}</h1>} data-testid="change-card">
        <Typography.Paragraph>{t(terms.holderKind === 'org' ? 'changeIntro' : 'changePersonIntro')}</Typography.Paragraph>
        {open ? (
          <Alert
            type="info"
            showIcon
            data-testid="change-blocked"
            title={t('changeBlocked', { id: open.id, kind: orderKindText(t, open.kind) })}
            action={
              <Button
                type="primary"
                onClick={() => navigate(open.kind === 'change' ? `/changes/${open.id}` : `/orders/${open.id}`)}
                data-testid="change-open-order"
              >
                {t('changeGoOrder')}
              </Button>
            }
          />
        ) : (
          <Form<ChangeFormValues>
            form={form}
            layout="horizontal"
            labelCol={{ flex: '180px' }}
            wrapperCol={{ flex: 'auto' }}
            initialValues={{ paymentMethod: terms.paymentMethods[0] as PaymentMethod | undefined }}
            onFinish={(v) => void submit(v)}
            onValuesChange={() => setError(null)}
          >
            {terms.fields.map((f) => (
              <Form.Item
                key={f}
                label={fieldLabel(t, f)}
                name={f}
                extra={
                  f === 'legalRepresentative'
                    ? t('changeLegalRepNote')
                    : t('changeCurrentValue', { value: terms.current[f] ?? t('changeNoValue') })
                }
              >
                <Input
                  maxLength={f === 'province' || f === 'locality' ? 128 : 64}
                  placeholder={t('changeNewPlaceholder', { label: fieldLabel(t, f) })}
                  data-testid={`change-${f}`}
                />
              </Form.Item>
            ))}
            <Form.Item label={t('fieldUniqueId')} extra={t('changeUniqueIdNote')}>
              <span className="cd-static" data-testid="change-unique-id">
                {terms.uniqueId ?? '—'}
              </span>
            </Form.Item>
            <Form.Item label={t('changeNotAfterKept')}>
              <span className="cd-static">{fmtDate(lang, terms.notAfter)}</span>
            </Form.Item>
            <Form.Item
              label={t('changeReason')}
              name="reason"
              rules={[{ required: true, whitespace: true, max: 500, message: t('changeReasonRequired') }]}
            >
              <Input.TextArea rows={3} maxLength={500} showCount data-testid="change-reason" />
            </Form.Item>
            <Form.Item label={t('changeDocuments')}>
              <Typography.Paragraph type="secondary" className="cd-small">
                {t('changeDocumentsHint', { n: terms.maxDocuments })}
              </Typography.Paragraph>
              <Upload
                accept="application/pdf,image/jpeg,image/png"
                multiple
                maxCount={terms.maxDocuments}
                fileList={files}
                beforeUpload={() => false}
                onChange={({ fileList }) => {
                  setError(null);
                  setFiles(fileList.slice(0, terms.maxDocuments));
                }}
              >
                <Button data-testid="change-documents">{t('changeChooseDocuments')}</Button>
              </Upload>
            </Form.Item>
            <Form.Item label={t('fieldAmount')}>
              <span className="cd-static cd-amount" data-testid="change-amount">
                {charged ? money(t, terms.priceFen) : t('changeFree')}
              </span>
            </Form.Item>
            <OrderContactFields paymentMethods={terms.paymentMethods as PaymentMethod[]} contactOnly={!charged} />
            <Typography.Paragraph type="secondary">
              {t('changeReviewNote', { pay: t(charged ? 'changeReviewNotePaid' : 'changeReviewNoteFree') })}
            </Typography.Paragraph>
            {error && <Alert className="cd-gap" type="error" showIcon role="alert" title={error} />}
            <div className="cd-actions">
              <Button type="primary" size="large" htmlType="submit" loading={busy} data-testid="submit-change">
                {t('changeSubmit')}
              </Button>
            </div>
          </Form>
        )}
      </Card>
      <Card className="cd-gap-top" title={t('changeMine')} data-testid="change-list">
        <Table<ChangeRequestView>
          rowKey="orderId"
          size="middle"
          pagination={mine.length > 10 ? { pageSize: 10 } : false}
          dataSource={mine}
          locale={{ emptyText: t('changeNone') }}
          onRow={(c) => ({ onClick: () => navigate(`/changes/${c.orderId}`), className: 'cd-clickable' })}
          columns={[
            {
              title: t('colOrderId'),
              dataIndex: 'orderId',
              render: (id: string) => <a href={`#/changes/${id}`}>{id}</a>,
            },
            { title: t('changeSubmittedAt'), dataIndex: 'createdAt', render: (v: string) => fmtTime(lang, v) },
            {
              title: t('changeItem'),
              key: 'changes',
              render: (_, c) => c.changes.map((x) => `${fieldLabel(t, x.field)}：${x.new}`).join('；'),
            },
            {
              title: t('sealStatus'),
              key: 'review',
              render: (_, c) => (
                <Tag color={REVIEW_COLOR[c.reviewState]} data-testid={`change-review-${c.orderId}`}>
                  {t(`changeReview.${c.reviewState}` as MessageKey)}
                </Tag>
              ),
            },
          ]}
        />
      </Card>
    </div>
  );
}
