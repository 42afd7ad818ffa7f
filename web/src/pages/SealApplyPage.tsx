// 印章申请: seal type, name, picture (generated with a preview, or an uploaded transparent PNG),
// the supporting document (公安备案), payment and invoice mailing → an order, paid on its order page.
import { useEffect, useState } from 'react';
import { Alert, Button, Card, Form, Image, Input, Radio, Select, Spin, Typography, Upload } from 'antd';
import type { SealTypeView } from '../../../src/shared/seal-views.js';
import { ApiError, api, type PaymentMethod } from '../api';
import { errorText } from '../errors';
import { money, named } from '../format';
import { useI18n } from '../i18n';
import { navigate } from '../router';
import OrderContactFields from '../components/OrderContactFields';
import { readUpload, type FileUpload } from '../uploads';

interface SealForm {
  typeCode: string;
  name: string;
  pictureSource: 'generated' | 'uploaded';
  recipient: string;
  phone: string;
  address: string;
  postcode: string;
  paymentMethod: PaymentMethod;
}

export default function SealApplyPage() {
  const { t, lang } = useI18n();
  const [form] = Form.useForm<SealForm>();
  const [types, setTypes] = useState<SealTypeView[] | null>(null);
  const [methods, setMethods] = useState<PaymentMethod[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [picture, setPicture] = useState<FileUpload | null>(null);
  const [document, setDocument] = useState<FileUpload | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const typeCode = Form.useWatch('typeCode', form);
  const source = Form.useWatch('pictureSource', form);
  const type = types?.find((x) => x.code === typeCode);

  useEffect(() => {
    api
      .sealTypes()
      .then((r) => {
        setTypes(r.types);
        setMethods(r.paymentMethods);
      })
      .catch((e: unknown) => setLoadError(errorText(t, e)));
  }, [t]);

  const fieldError = (e: unknown) => {
    if (
      e instanceof ApiError &&
      e.field &&
      ['typeCode', 'name', 'recipient', 'phone', 'address', 'postcode', 'paymentMethod'].includes(e.field)
    )
      form.setFields([{ name: e.field as keyof SealForm, errors: [e.message] }]);
    else setError(errorText(t, e));
  };

  const showPreview = async () => {
    setError(null);
    try {
      const v = form.getFieldsValue();
      const r = await api.sealPreview({ typeCode: v.typeCode, name: v.name });
      setPreview(r.picture);
    } catch (e) {
      setPreview(null);
      fieldError(e);
    }
  };

  const submit = async (v: SealForm) => {
    setError(null);
    if (!document) return setError(t('sealDocumentRequired'));
    if (v.pictureSource === 'uploaded' && !picture) return setError(t('sealPictureRequired'));
    setBusy(true);
    try {
      const { pictureSource, ...rest } = v;
      const r = await api.applySeal({
        ...rest,
        picture:
          pictureSource === 'uploaded' ? { source: 'uploaded', contentBase64: picture!.contentBase64 } : { source: 'generated' },
        document,
      });
      navigate(`/orders/${r.application.orderId}`);
    } catch (e) {
      fieldError(e);
    } finally {
      setBusy(false);
    }
  };

  if (loadError) return <Alert type="error" showIcon title={loadError} />;
  if (!types) return <Spin />;
  return (
    <Card title={<h1 className="cd-card-title">{t('menuSealApply')}</h1>} data-testid="seal-apply-card">
      <Form<SealForm>
        form={form}
        layout="horizontal"
        labelCol={{ flex: '160px' }}
        wrapperCol={{ flex: 'auto' }}
        initialValues={{ pictureSource: 'generated', paymentMethod: methods[0], typeCode: types[0]?.code }}
        onFinish={(v) => void submit(v)}
        onValuesChange={() => setError(null)}
      >
        <Form.Item label={t('sealType')} name="typeCode" rules={[{ required: true }]}>
          <Select
            data-testid="seal-type"
            style={{ maxWidth: 320 }}
            options={types.map((x) => ({ value: x.code, label: `${named(lang, x.name, x.nameEn)} · ${money(t, x.priceFen)}` }))}
          />
        </Form.Item>
        <Form.Item
          label={t('sealName')}
          name="name"
          extra={type?.nameIsOrganization ? t('sealNameIsOrganization') : undefined}
          rules={[{ required: true, whitespace: true, max: 24, message: t('sealNameRequired') }]}
        >
          <Input maxLength={24} data-testid="seal-name" />
        </Form.Item>
        <Form.Item label={t('sealPicture')} name="pictureSource">
          <Radio.Group>
            <Radio value="generated" data-testid="picture-generated">
              {t('sealPictureGenerated')}
            </Radio>
            <Radio value="uploaded" data-testid="picture-uploaded">
              {t('sealPictureUploaded')}
            </Radio>
          </Radio.Group>
        </Form.Item>
        <Form.Item label=" " colon={false}>
          {source === 'uploaded' ? (
            <Upload
              accept="image/png"
              maxCount={1}
              beforeUpload={(f) => {
                void readUpload(f).then((u) => {
                  setPicture(u);
                  setPreview(`data:image/png;base64,${u.contentBase64}`);
                });
                return false;
              }}
            >
              <Button data-testid="picture-file">{t('sealChoosePng')}</Button>
            </Upload>
          ) : (
            <Button onClick={() => void showPreview()} data-testid="seal-preview">
              {t('sealPreview')}
            </Button>
          )}
          {preview && (
            <div className="cd-gap">
              <Image src={preview} width={168} alt={t('sealPicture')} data-testid="seal-preview-image" />
            </div>
          )}
        </Form.Item>
        <Form.Item label={t('sealDocument')} extra={t('sealDocumentHint')}>
          <Upload
            accept="application/pdf,image/jpeg,image/png"
            maxCount={1}
            beforeUpload={(f) => {
              void readUpload(f).then(setDocument);
              return false;
            }}
          >
            <Button data-testid="document-file">{t('sealChooseDocument')}</Button>
          </Upload>
        </Form.Item>
        <Form.Item label={t('fieldAmount')}>
          <span className="cd-static cd-amount" data-testid="amount">
            {type ? money(t, type.priceFen) : '—'}
          </span>
        </Form.Item>
        <OrderContactFields paymentMethods={methods} />
        <Typography.Paragraph type="secondary">{t('sealReviewNote')}</Typography.Paragraph>
        {error && <Alert className="cd-gap" type="error" showIcon role="alert" title={error} />}
        <div className="cd-actions">
          <Button type="primary" size="large" htmlType="submit" loading={busy} data-testid="submit-seal">
            {t('confirm')}
          </Button>
        </div>
      </Form>
    </Card>
  );
}
