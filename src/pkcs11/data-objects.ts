// Data objects (CKO_DATA) on a token: public, token objects found by CKA_APPLICATION and CKA_LABEL,
// their bytes in CKA_VALUE. Electronic seals are stored this way (label = esID). CKO_DATA has no
// CKA_ID, so every change names the object by application, label and bytes: two objects with one
// label are never confused.
import * as graphene from 'graphene-pk11';
import { attrBuffer, attrString } from './attributes.js';
import { Pkcs11Error, wrap } from './errors.js';
import type { TokenSession } from './module.js';

export interface DataObject {
  application: string;
  label: string;
  value: Buffer;
}

function find(s: graphene.Session, application: string, label?: string): { o: graphene.SessionObject; d: DataObject }[] {
  const t: graphene.ITemplate = { class: graphene.ObjectClass.DATA, application };
  if (label !== undefined) t.label = label;
  return [...s.find(t)].map((o) => ({
    o,
    d: {
      application: attrString(o, 'application') ?? application,
      label: attrString(o, 'label') ?? '',
      value: attrBuffer(o, 'value') ?? Buffer.alloc(0),
    },
  }));
}

/** The data objects of this application (public ones without login). */
export function readDataObjects(session: TokenSession, application: string): Promise<DataObject[]> {
  return session.run((s) =>
    wrap(`reading data objects on token "${session.token.label}"`, () => find(s, application).map((x) => x.d)),
  );
}

/** Stores a public data object. The same label and bytes again is a no-op; the same label with other bytes is refused. */
export function writeDataObject(session: TokenSession, d: DataObject): Promise<void> {
  const doing = `storing data object "${d.label}" on token "${session.token.label}"`;
  return session.run((s) =>
    wrap(doing, () => {
      const existing = find(s, d.application, d.label);
      if (existing.some((x) => x.d.value.equals(d.value))) return;
      if (existing.length > 0) throw new Pkcs11Error(`${doing}: a different object with this label exists`, 'OBJECT_EXISTS');
      s.create({
        class: graphene.ObjectClass.DATA,
        token: true,
        private: false,
        modifiable: true,
        application: d.application,
        label: d.label,
        value: d.value,
      });
    }),
  );
}

function matching(s: graphene.Session, d: DataObject): graphene.SessionObject[] {
  return find(s, d.application, d.label)
    .filter((x) => x.d.value.equals(d.value))
    .map((x) => x.o);
}

/** Sets CKA_LABEL of the data object with exactly this application, label and bytes; returns how many. */
export function relabelDataObject(session: TokenSession, d: DataObject, label: string): Promise<number> {
  return session.run((s) =>
    wrap(`relabelling data object "${d.label}" on token "${session.token.label}"`, () => {
      const objs = matching(s, d);
      for (const o of objs) o.setAttribute({ label });
      return objs.length;
    }),
  );
}

/** Deletes the data object with exactly this application, label and bytes; returns how many. */
export function deleteDataObject(session: TokenSession, d: DataObject): Promise<number> {
  return session.run((s) =>
    wrap(`deleting data object "${d.label}" on token "${session.token.label}"`, () => {
      const objs = matching(s, d);
      for (const o of objs) o.destroy();
      return objs.length;
    }),
  );
}
